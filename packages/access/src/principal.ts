import type { IdentityKind, Role } from '@warden/db';

/** A verified caller: who it is and what it may do, resolved from a token. */
export interface Principal {
  identityId: string;
  name: string;
  kind: IdentityKind;
  role: Role;
  groups: string[];
  /** The API key the caller presented, when it was one. */
  apiKeyId?: string;
  /** The sign-in (AuthSession) of the access token the caller presented, when it was one. */
  authSessionId?: string;
  /** The registered SSH public key the caller logged in with, when it was one. */
  sshKeyId?: string;
}

export type AuthFailureReason =
  | 'missing'
  | 'unknown'
  | 'revoked'
  | 'expired'
  | 'identity_disabled'
  | 'identity_blocked'
  /** An access token whose signature or key id is not Warden's. */
  | 'forged'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'not_yet_valid'
  /** Not a well-formed access token at all. */
  | 'malformed';

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: AuthFailureReason };

export const authFailureMessages: Record<AuthFailureReason, string> = {
  missing: 'credentials are required',
  unknown: 'the token is not valid',
  revoked: 'the token has been revoked',
  expired: 'the token has expired',
  identity_disabled: 'the identity is disabled',
  identity_blocked: 'the identity is blocked',
  // Callers learn the token is unusable, not which check a forgery failed.
  forged: 'the token is not valid',
  wrong_audience: 'the token is not meant for Warden',
  wrong_issuer: 'the token is not valid',
  not_yet_valid: 'the token is not valid yet',
  malformed: 'the token is not valid',
};
