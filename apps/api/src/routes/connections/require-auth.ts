// Validation of a Postgres connection's `require_auth` (which authentication methods the
// agent lets the target ask for), libpq's vocabulary and rules. The agent parses the same
// value with parseRequireAuth in @warden/proto (packages/proto/src/require-auth.ts), which
// the API does not depend on: the two must accept exactly the same values
// (test/faults/target-auth-config.test.ts checks that they do).

export const REQUIRE_AUTH_METHODS = ['password', 'md5', 'scram-sha-256', 'none'] as const;

const KNOWN = new Set<string>(REQUIRE_AUTH_METHODS);
const LIBPQ_ONLY = new Set(['gss', 'sspi']);

export const requireAuthDescription =
  'postgres: authentication methods the target may ask the agent for, as libpq require_auth: a comma-separated ' +
  'list of password, md5, scram-sha-256, none, or of !method to forbid. Default: any method with sslmode ' +
  'verify-full; otherwise scram-sha-256 or none, so an unverified server cannot obtain a cleartext or MD5 password';

/** Why `spec` is not a valid require_auth, or null when it is. Quotes an item only when it looks like a method. */
export function requireAuthError(spec: string): string | null {
  const seen = new Set<string>();
  let negated: boolean | undefined;
  for (const [index, raw] of spec.split(',').entries()) {
    const item = raw.trim();
    const not = item.startsWith('!');
    const name = not ? item.slice(1) : item;
    const label = /^[a-z0-9-]{1,32}$/i.test(name) ? `"${name}"` : `item ${index + 1}`;
    if (!name) return `item ${index + 1} is empty`;
    if (LIBPQ_ONLY.has(name)) return `${label} is not supported by the agent`;
    if (!KNOWN.has(name)) return `${label} is not a known method (${REQUIRE_AUTH_METHODS.join(', ')}, or !method)`;
    if (negated !== undefined && negated !== not) return 'methods and !methods cannot be mixed';
    negated = not;
    if (seen.has(name)) return `${label} is listed more than once`;
    seen.add(name);
  }
  if (negated && seen.size === REQUIRE_AUTH_METHODS.length) return 'allows no method at all';
  return null;
}
