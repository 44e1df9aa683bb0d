import { badRequest } from './errors.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Named resources are addressed by id or by unique name (`/api/connections/pg-prod`).
 * A uuid-looking reference matches either, so a resource named like a uuid still resolves.
 */
export function byIdOrName(ref: string): { OR: ({ id: string } | { name: string })[] } {
  return UUID.test(ref) ? { OR: [{ id: ref }, { name: ref }] } : { OR: [{ name: ref }] };
}

/** For resources addressed by id only: anything else cannot exist (404, not a database error). */
export function isUuid(ref: string): boolean {
  return UUID.test(ref);
}

/**
 * Resolves a list of references (ids or names) with `find`; every unknown one is
 * reported as a 400 on `field`, so a client learns all of them at once.
 */
export async function resolveRefs<T>(
  refs: readonly string[],
  what: string,
  field: string,
  find: (where: ReturnType<typeof byIdOrName>) => Promise<T | null>,
): Promise<T[]> {
  const unique = [...new Set(refs)];
  const found = await Promise.all(unique.map((ref) => find(byIdOrName(ref))));
  const missing = unique.filter((_, i) => !found[i]);
  if (missing.length) {
    throw badRequest(
      `unknown ${what} references`,
      missing.map((ref) => ({ field, message: `${what} "${ref}" not found` })),
    );
  }
  return found as T[];
}
