import { createHash, randomBytes } from 'node:crypto';

/** Prefixes make leaked credentials greppable (secret scanners, log searches). */
export const TOKEN_PREFIX = {
  apiKey: 'wdn_',
  agentKey: 'wda_',
  /** Opaque refresh tokens of a sign-in (rotated on each use). */
  refreshToken: 'wdr_',
  /** One-time codes the CLI's loopback redirect receives and exchanges for tokens. */
  loginCode: 'wdc_',
} as const;

export interface IssuedToken {
  /** The full secret, shown to its owner exactly once. */
  token: string;
  /** SHA-256 of the token: what the database stores and looks up by. */
  hash: string;
  /** A recognisable, non-secret head of the token for lists (`wdn_3fQx…`). */
  prefix: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function displayPrefix(token: string): string {
  return token.slice(0, 10);
}

export function issueToken(kind: keyof typeof TOKEN_PREFIX): IssuedToken {
  const token = TOKEN_PREFIX[kind] + randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token), prefix: displayPrefix(token) };
}

/** For keys chosen by an operator (BOOTSTRAP_ADMIN_KEY) rather than generated here. */
export function adoptToken(token: string): IssuedToken {
  return { token, hash: hashToken(token), prefix: displayPrefix(token) };
}
