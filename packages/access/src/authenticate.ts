import type { PrismaClient } from '@warden/db';
import type { AuthResult } from './principal.js';
import { hashToken } from './secret-token.js';

// lastUsedAt is informational; writing it on every request would put a write on
// every API call and every gateway connect.
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * The one place a bearer token becomes a Principal: the API, the Postgres listener
 * and the SSH listener all call this, so revocation and blocking act everywhere.
 */
export async function authenticateToken(
  prisma: PrismaClient,
  token: string | undefined,
  now = new Date(),
): Promise<AuthResult> {
  if (!token) return { ok: false, reason: 'missing' };
  const key = await prisma.apiKey.findUnique({
    where: { hash: hashToken(token) },
    include: { identity: { include: { memberships: { include: { group: { select: { name: true } } } } } } },
  });
  if (!key) return { ok: false, reason: 'unknown' };
  if (key.revokedAt) return { ok: false, reason: 'revoked' };
  if (key.expiresAt && key.expiresAt <= now) return { ok: false, reason: 'expired' };
  const { identity } = key;
  if (identity.status === 'disabled') return { ok: false, reason: 'identity_disabled' };
  if (identity.status === 'blocked') return { ok: false, reason: 'identity_blocked' };
  if (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await prisma.apiKey.update({ where: { id: key.id }, data: { lastUsedAt: now } });
  }
  return {
    ok: true,
    principal: {
      identityId: identity.id,
      name: identity.name,
      kind: identity.kind,
      role: identity.role,
      groups: identity.memberships.map((m) => m.group.name).sort(),
      apiKeyId: key.id,
    },
  };
}
