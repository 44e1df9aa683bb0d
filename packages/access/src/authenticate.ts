import type { Identity, IdentityStatus, PrismaClient } from '@warden/db';
import { looksLikeJwt, verifyAccessToken } from './access-token.js';
import type { AuthFailureReason, AuthResult, Principal } from './principal.js';
import { hashToken } from './secret-token.js';

// lastUsedAt is informational; writing it on every request would put a write on
// every API call and every gateway connect.
const LAST_USED_RESOLUTION_MS = 60_000;

/** Prisma `include` that loads an identity with what a Principal needs: its groups' names. */
export const withGroups = { memberships: { include: { group: { select: { name: true } } } } } as const;

export type IdentityWithGroups = Identity & { memberships: { group: { name: string } }[] };

/**
 * The one place an identity, once its credential checked out (API key, access token, or an SSH
 * key its listener verified), becomes a Principal: unless its status refuses it.
 */
export function principalOf(
  identity: IdentityWithGroups,
  via: Pick<Principal, 'apiKeyId' | 'authSessionId' | 'sshKeyId'> = {},
): AuthResult {
  const failure = statusFailure(identity.status);
  if (failure) return { ok: false, reason: failure };
  return {
    ok: true,
    principal: {
      identityId: identity.id,
      name: identity.name,
      kind: identity.kind,
      role: identity.role,
      groups: identity.memberships.map((m) => m.group.name).sort(),
      ...via,
    },
  };
}

/**
 * The one place a bearer token becomes a Principal: the API, the Postgres listener
 * and the SSH listener all call this, so revocation and blocking act everywhere.
 * Takes an API key (`wdn_...`) or an access token (JWT from sign-in). Both are
 * checked against the database on every call, so a revoked token, a revoked
 * sign-in or a disabled identity stops working on every replica at once.
 */
export async function authenticateToken(
  prisma: PrismaClient,
  token: string | undefined,
  now = new Date(),
): Promise<AuthResult> {
  if (!token) return { ok: false, reason: 'missing' };
  return looksLikeJwt(token) ? authenticateAccessToken(prisma, token, now) : authenticateApiKey(prisma, token, now);
}

function statusFailure(status: IdentityStatus): AuthFailureReason | null {
  if (status === 'disabled') return 'identity_disabled';
  if (status === 'blocked') return 'identity_blocked';
  return null;
}

async function authenticateApiKey(prisma: PrismaClient, token: string, now: Date): Promise<AuthResult> {
  const key = await prisma.apiKey.findUnique({
    where: { hash: hashToken(token) },
    include: { identity: { include: withGroups } },
  });
  if (!key) return { ok: false, reason: 'unknown' };
  if (key.revokedAt) return { ok: false, reason: 'revoked' };
  if (key.expiresAt && key.expiresAt <= now) return { ok: false, reason: 'expired' };
  const result = principalOf(key.identity, { apiKeyId: key.id });
  if (result.ok && (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS)) {
    await prisma.apiKey.update({ where: { id: key.id }, data: { lastUsedAt: now } });
  }
  return result;
}

async function authenticateAccessToken(prisma: PrismaClient, token: string, now: Date): Promise<AuthResult> {
  const verified = await verifyAccessToken(prisma, token, now);
  if (!verified.ok) return verified;
  // One read: the sign-in the token belongs to (revocation) and the identity (status, groups).
  const session = await prisma.authSession.findUnique({
    where: { id: verified.sessionId },
    include: { identity: { include: withGroups } },
  });
  // A validly signed token naming someone else's sign-in was not minted by Warden.
  if (!session || session.identityId !== verified.identityId) return { ok: false, reason: 'forged' };
  if (session.revokedAt) return { ok: false, reason: 'revoked' };
  return principalOf(session.identity, { authSessionId: session.id });
}
