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
