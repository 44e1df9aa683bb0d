import type { FastifyRequest } from 'fastify';
import type { Principal } from '@warden/access';
import type { Prisma, PrismaClient } from '@warden/db';
import { parsePublicKey, type RecordingSeal } from '@warden/recording';
import { ApiError, notFound } from '../../errors.js';
import { isUuid } from '../../lookup.js';
import type { ApiServices } from '../../types.js';
import { lastStoredSeq } from './events.js';

export const withRefs = {
  identity: { select: { id: true, name: true } },
  connection: { select: { id: true, name: true } },
  agent: { select: { id: true, name: true } },
} as const;
export type SessionRow = Prisma.SessionGetPayload<{ include: typeof withRefs }>;

/**
 * A session the caller may read: people with role `user` read only their own
 * recordings; auditors and admins read every one.
 */
export async function findReadableSession(prisma: PrismaClient, principal: Principal, id: string): Promise<SessionRow> {
  const session = isUuid(id) ? await prisma.session.findUnique({ where: { id }, include: withRefs }) : null;
  if (!session) throw notFound('session', id);
  if (principal.role === 'user' && session.identityId !== principal.identityId) {
    throw new ApiError(403, 'only your own sessions can be read; auditors and admins read every session');
  }
  return session;
}

export function sealOf(session: SessionRow): RecordingSeal | null {
  if (session.finalHash === null || session.signature === null || session.signingKeyId === null) return null;
  return {
    sessionId: session.id,
    lastSeq: session.sealedSeq ?? session.eventCount,
    finalHash: session.finalHash,
    signature: session.signature,
    signingKeyId: session.signingKeyId,
  };
}

/** The published public key that sealed the session, as PEM, or null (unsealed, or the key is unknown). */
export async function sealingKeyPem(prisma: PrismaClient, session: SessionRow): Promise<string | null> {
  if (!session.signingKeyId) return null;
  const key = await prisma.recordingKey.findUnique({ where: { id: session.signingKeyId } });
  if (!key) return null;
  try {
    parsePublicKey(key.publicKey);
    return key.publicKey;
  } catch {
    return null;
  }
}

export function isEnded(session: Pick<SessionRow, 'status' | 'endedAt'>): boolean {
  return session.status !== 'active' || session.endedAt !== null;
}

export async function presentDetail(prisma: PrismaClient, session: SessionRow) {
  // Until the seal writes eventCount, the stored events are the count.
  const events = session.finalHash === null ? await lastStoredSeq(prisma, session.id) : session.eventCount;
  const seal = sealOf(session);
  return {
    id: session.id,
    identity: session.identity,
    connection: session.connection,
    protocol: session.protocol,
    status: session.status,
    clientAddr: session.clientAddr,
    startedAt: session.startedAt.toISOString(),
    endedAt: session.endedAt?.toISOString() ?? null,
    counts: {
      statements: session.statementCount,
      blocked: session.blockedCount,
      reviews: session.reviewCount,
      events,
      bytesIn: Number(session.bytesIn),
      bytesOut: Number(session.bytesOut),
    },
    sealed: seal !== null,
    agent: session.agent,
    gatewayId: session.gatewayId,
    clientTls: session.clientTls,
    clientUser: session.clientUser,
    endReason: session.endReason,
    maskedCells: (session.maskedCells ?? {}) as Record<string, unknown>,
    seal: seal && {
      finalHash: seal.finalHash,
      signature: seal.signature,
      signingKeyId: seal.signingKeyId,
      sealedSeq: seal.lastSeq,
      sealedAt: session.sealedAt?.toISOString() ?? null,
    },
  };
}

/** Reading a recording is itself audited ("who watched"). */
export function auditRead(
  services: ApiServices,
  request: FastifyRequest,
  action: string,
  session: SessionRow,
  details: Record<string, unknown> = {},
): Promise<void> {
  return services.audit.record(
    request,
    action,
    { type: 'session', id: session.id, name: `${session.identity.name}@${session.connection.name}` },
    { identity: session.identity.name, connection: session.connection.name, ...details },
  );
}
