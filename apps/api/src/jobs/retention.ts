import type { PrismaClient } from '@warden/db';
import type { BackgroundJobs, JobsLogger, RetryPolicy } from './background-jobs.js';

/**
 * Recording retention: a connection with `options.recording.retentionDays` keeps
 * its sessions' recordings that many days after they ended. The purge is the one
 * path allowed to delete recorded events (the database refuses any other, see the
 * recording migration), and each batch it deletes is audited in the same transaction.
 */
export const RETENTION_JOB = 'recording-retention';
/** Hourly: a recording outlives its retention by at most this (WARDEN_RETENTION_INTERVAL_MS overrides). */
export const DEFAULT_RETENTION_INTERVAL_MS = 60 * 60 * 1000;
/** A failed run (database restarting) is retried sooner than the next hour: 30 s, 1, 2, 4 min. */
export const RETENTION_RETRY: RetryPolicy = { attempts: 5, backoff: { type: 'exponential', delay: 30_000 } };
/** Sessions deleted per transaction: short transactions, few locks, progress kept if a later batch fails. */
export const SESSIONS_PER_BATCH = 50;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface PurgeCounts {
  sessions: number;
  events: number;
  /** Reviews outlive the sessions they were raised in; their link to a purged session is cleared. */
  reviewsUnlinked: number;
}

export interface PurgedConnection extends PurgeCounts {
  id: string;
  name: string;
  retentionDays: number;
  /** Sessions that ended before this were purged. */
  cutoff: string;
}

export interface PurgeResult extends PurgeCounts {
  /** Connections where something was purged. */
  connections: PurgedConnection[];
}

/**
 * Who the `recording.purge` audit entries name. Each batch's entry is written in the batch's own
 * transaction, so no purge is ever committed unaudited, whatever happens between batches.
 */
export interface PurgeActor {
  id: string | null;
  name: string;
  ip?: string | null;
  userAgent?: string | null;
}

export interface PurgeOptions {
  actor: PurgeActor;
  /** Called after a connection's last batch is committed (e.g. to emit the admin.change event). */
  onPurged?: (
    connection: { id: string; name: string },
    details: Omit<PurgedConnection, 'id' | 'name'>,
  ) => Promise<void>;
  now?: Date;
  batchSize?: number;
}

/** The scheduled job's actor: nobody asked for the purge. */
export const SYSTEM_ACTOR: PurgeActor = { id: null, name: 'system' };

/** options.recording.retentionDays, or undefined when the connection keeps recordings forever. */
export function retentionDaysOf(options: unknown): number | undefined {
  const days = (options as { recording?: { retentionDays?: unknown } } | null)?.recording?.retentionDays;
  return typeof days === 'number' && Number.isInteger(days) && days >= 1 ? days : undefined;
}

/** Deletes the recordings (events, then sessions) that ended before their connection's retention. */
export async function purgeExpiredRecordings(prisma: PrismaClient, options: PurgeOptions): Promise<PurgeResult> {
  const now = options.now ?? new Date();
  const result: PurgeResult = { sessions: 0, events: 0, reviewsUnlinked: 0, connections: [] };
  const connections = await prisma.connection.findMany({
    select: { id: true, name: true, options: true },
    orderBy: { name: 'asc' },
  });
  for (const connection of connections) {
    const retentionDays = retentionDaysOf(connection.options);
    if (retentionDays === undefined) continue;
    const cutoff = new Date(now.getTime() - retentionDays * DAY_MS);
    const counts = await purgeConnection(prisma, {
      connection,
      retentionDays,
      cutoff,
      actor: options.actor,
      batchSize: options.batchSize ?? SESSIONS_PER_BATCH,
    });
    if (counts.sessions === 0) continue;
    const details = { retentionDays, cutoff: cutoff.toISOString(), ...counts };
    await options.onPurged?.({ id: connection.id, name: connection.name }, details);
    const purged: PurgedConnection = { id: connection.id, name: connection.name, ...details };
    result.connections.push(purged);
    result.sessions += counts.sessions;
    result.events += counts.events;
    result.reviewsUnlinked += counts.reviewsUnlinked;
  }
  return result;
}

interface ConnectionPurge {
  connection: { id: string; name: string };
  retentionDays: number;
  cutoff: Date;
  actor: PurgeActor;
  batchSize: number;
}

async function purgeConnection(prisma: PrismaClient, purge: ConnectionPurge): Promise<PurgeCounts> {
  const { connection, cutoff, batchSize } = purge;
  const connectionId = connection.id;
  const total: PurgeCounts = { sessions: 0, events: 0, reviewsUnlinked: 0 };
  // Timestamps are stored as UTC without a zone; an ISO string in UTC casts to them exactly.
  const before = cutoff.toISOString();
  for (;;) {
    const batch = await prisma.$transaction(
      async (tx) => {
        // The one switch the immutability trigger honours; LOCAL: it ends with this transaction.
        await tx.$executeRaw`SET LOCAL warden.retention_purge = 'on'`;
        // Only sessions that have ended: a live session keeps its recording whatever its age.
        // SKIP LOCKED lets a concurrent purge (another replica, the admin route) take other rows.
        const rows = await tx.$queryRaw<{ id: string }[]>`
          SELECT id::text AS id FROM "Session"
          WHERE "connectionId" = ${connectionId}::uuid
            AND status <> 'active' AND "endedAt" IS NOT NULL AND "endedAt" < ${before}::timestamp(3)
          ORDER BY "endedAt"
          LIMIT ${batchSize}
          FOR UPDATE SKIP LOCKED`;
        if (rows.length === 0) return null;
        const ids = rows.map((r) => r.id);
        const [events] = await tx.$queryRaw<{ n: number }[]>`
          WITH purged AS (
            DELETE FROM "RecordingChunk" WHERE "sessionId" = ANY(${ids}::uuid[])
            RETURNING "lastSeq" - "firstSeq" + 1 AS n)
          SELECT coalesce(sum(n), 0)::int AS n FROM purged`;
        // Review.sessionId is ON DELETE SET NULL already; clearing it here counts what the audit entry reports.
        const reviewsUnlinked = await tx.$executeRaw`
          UPDATE "Review" SET "sessionId" = NULL WHERE "sessionId" = ANY(${ids}::uuid[])`;
        const sessions = await tx.$executeRaw`DELETE FROM "Session" WHERE id = ANY(${ids}::uuid[])`;
        const counts = { sessions, events: events?.n ?? 0, reviewsUnlinked };
        // In the same transaction as the deletes: either both are committed or neither is.
        await tx.auditEntry.create({
          data: {
            action: 'recording.purge',
            actorId: purge.actor.id,
            actorName: purge.actor.name,
            targetType: 'connection',
            targetId: connection.id,
            targetName: connection.name,
            details: { retentionDays: purge.retentionDays, cutoff: before, ...counts },
            ip: purge.actor.ip ?? null,
            userAgent: purge.actor.userAgent ?? null,
          },
        });
        return counts;
      },
      { maxWait: 10_000, timeout: 120_000 },
    );
    if (!batch) return total;
    total.sessions += batch.sessions;
    total.events += batch.events;
    total.reviewsUnlinked += batch.reviewsUnlinked;
    if (batch.sessions < batchSize) return total;
  }
}

/** Schedules the purge on the background jobs (once across replicas with Redis). */
export async function scheduleRetention(
  jobs: BackgroundJobs,
  options: { prisma: PrismaClient; logger: JobsLogger; intervalMs?: number },
): Promise<void> {
  const { prisma, logger } = options;
  await jobs.repeat(
    RETENTION_JOB,
    options.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS,
    async () => {
      const result = await purgeExpiredRecordings(prisma, { actor: SYSTEM_ACTOR });
      if (result.sessions > 0) {
        logger.info(
          { sessions: result.sessions, events: result.events, connections: result.connections.length },
          'purged recordings past their retention',
        );
      }
      return { sessions: result.sessions, events: result.events };
    },
    RETENTION_RETRY,
  );
}
