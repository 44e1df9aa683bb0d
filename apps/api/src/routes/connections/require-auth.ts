// Validation of a Postgres connection's `require_auth` (which authentication methods the agent lets
// the target ask for): the agent's own parser, so the API accepts exactly what the agent enforces.
import { parseRequireAuth } from '@warden/proto/require-auth';

export const requireAuthDescription =
  'postgres: authentication methods the target may ask the agent for, as libpq require_auth: a comma-separated ' +
  'list of password, md5, scram-sha-256, none, or of !method to forbid. Default: any method with sslmode ' +
  'verify-full; otherwise scram-sha-256 or none, so an unverified server cannot obtain a cleartext or MD5 password';

/** Why `spec` is not a valid require_auth, or null when it is. Quotes an item only when it looks like a method. */
export function requireAuthError(spec: string): string | null {
  const parsed = parseRequireAuth(spec);
  return parsed.ok ? null : parsed.error;
}
