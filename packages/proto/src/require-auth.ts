// Which authentication methods the agent lets a Postgres target ask for, in libpq's
// `require_auth` vocabulary (PostgreSQL 16): a comma-separated list of methods, or of
// `!method`s to forbid (all of one kind). The API validates a connection's list with it
// (apps/api/src/routes/connections/require-auth.ts); the agent enforces it while it logs
// in (apps/agent/src/postgres/target-auth.ts).

/** The methods the agent can meet. libpq's gss and sspi are not among them: the agent speaks neither. */
export const TARGET_AUTH_METHODS = ['password', 'md5', 'scram-sha-256', 'none'] as const;
export type TargetAuthMethod = (typeof TARGET_AUTH_METHODS)[number];

/**
 * Without `require_auth`, and TLS to the target not verified (any sslmode but verify-full),
 * a target may ask only for SCRAM-SHA-256, or for nothing: whoever answers at the target's
 * address could be an impostor, and a cleartext or MD5 request would hand it the password
 * or a hash it can replay. `none` sends no secret at all.
 */
export const UNVERIFIED_TLS_DEFAULT: readonly TargetAuthMethod[] = ['scram-sha-256', 'none'];

export type RequireAuthParse = { ok: true; allowed: TargetAuthMethod[] } | { ok: false; error: string };

const KNOWN = new Set<string>(TARGET_AUTH_METHODS);
const LIBPQ_ONLY = new Set(['gss', 'sspi']);

/**
 * Parses a `require_auth` value the way libpq does: methods are all positive or all
 * negated, none repeated. Errors quote an item only when it looks like a method name.
 */
export function parseRequireAuth(spec: string): RequireAuthParse {
  const items = spec.split(',').map((item) => item.trim());
  const seen = new Set<string>();
  let negated: boolean | undefined;
  for (const [index, item] of items.entries()) {
    const not = item.startsWith('!');
    const name = not ? item.slice(1) : item;
    const label = /^[a-z0-9-]{1,32}$/i.test(name) ? `"${name}"` : `item ${index + 1}`;
    if (!name) return { ok: false, error: `item ${index + 1} is empty` };
    if (LIBPQ_ONLY.has(name)) return { ok: false, error: `${label} is not supported by the agent` };
    if (!KNOWN.has(name)) {
      return { ok: false, error: `${label} is not a known method (${TARGET_AUTH_METHODS.join(', ')}, or !method)` };
    }
    if (negated !== undefined && negated !== not) {
      return { ok: false, error: 'methods and !methods cannot be mixed' };
    }
    negated = not;
    if (seen.has(name)) return { ok: false, error: `${label} is listed more than once` };
    seen.add(name);
  }
  const allowed = negated
    ? TARGET_AUTH_METHODS.filter((method) => !seen.has(method))
    : TARGET_AUTH_METHODS.filter((method) => seen.has(method));
  if (!allowed.length) return { ok: false, error: 'allows no method at all' };
  return { ok: true, allowed };
}
