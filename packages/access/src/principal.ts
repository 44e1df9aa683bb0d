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
}

export type AuthFailureReason =
  'missing' | 'unknown' | 'revoked' | 'expired' | 'identity_disabled' | 'identity_blocked';

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: AuthFailureReason };

export const authFailureMessages: Record<AuthFailureReason, string> = {
  missing: 'credentials are required',
  unknown: 'the token is not valid',
  revoked: 'the token has been revoked',
  expired: 'the token has expired',
  identity_disabled: 'the identity is disabled',
  identity_blocked: 'the identity is blocked',
};
