import type { AccessGrant, PrismaClient } from '@warden/db';

/**
 * Whether connecting needs an active access grant: `connection.options.access.requireGrant`.
 * Anything else (missing, malformed, not exactly true) means no, so a typo cannot lock everyone
 * out; the connections API validates the option.
 */
export function connectionRequiresGrant(connection: { options: unknown }): boolean {
  const access = (connection.options as { access?: unknown } | null)?.access;
  return typeof access === 'object' && access !== null && (access as { requireGrant?: unknown }).requireGrant === true;
}

/** The grant letting the identity use the connection at `now` (the one lasting longest), or null. */
export function activeGrant(
  prisma: PrismaClient,
  identityId: string,
  connectionId: string,
  now = new Date(),
): Promise<AccessGrant | null> {
  return prisma.accessGrant.findFirst({
    where: { identityId, connectionId, revokedAt: null, startsAt: { lte: now }, endsAt: { gt: now } },
    orderBy: { endsAt: 'desc' },
  });
}

/**
 * Ends a grant early. `revoked` is false when it was already revoked (idempotent, audited once by
 * the caller); null when there is no such grant.
 */
export async function revokeGrant(
  prisma: PrismaClient,
  grantId: string,
  now = new Date(),
): Promise<{ grant: AccessGrant; revoked: boolean } | null> {
  if (!/^[0-9a-f-]{36}$/i.test(grantId)) return null;
  const { count } = await prisma.accessGrant.updateMany({
    where: { id: grantId, revokedAt: null },
    data: { revokedAt: now },
  });
  const grant = await prisma.accessGrant.findUnique({ where: { id: grantId } });
  return grant ? { grant, revoked: count > 0 } : null;
}
