import type { PrismaClient } from '@warden/db';
import type { BackgroundJobs, JobsLogger, RetryPolicy } from './background-jobs.js';

/**
 * Event retention (WARDEN_EVENT_RETENTION_DAYS): catalog events older than the retention are
 * deleted hourly with their webhook deliveries, in batches (short transactions). Events not yet
 * dispatched are kept whatever their age, so nothing is dropped before it was delivered.
 */
export const EVENT_RETENTION_JOB = 'event-retention';
const EVERY_MS = 60 * 60 * 1000;
const RETRY: RetryPolicy = { attempts: 3, backoff: { type: 'exponential', delay: 60_000 } };
const BATCH = 5000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** Deletes dispatched events older than `days`; returns how many. */
export async function purgeEvents(prisma: PrismaClient, days: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - days * DAY_MS).toISOString();
  let total = 0;
  for (;;) {
    // Deliveries go with their event (ON DELETE CASCADE).
    const deleted = await prisma.$executeRaw`
      DELETE FROM "Event" WHERE seq IN (
        SELECT seq FROM "Event"
        WHERE time < ${cutoff}::timestamp(3) AND "dispatchedAt" IS NOT NULL
        ORDER BY seq LIMIT ${BATCH})`;
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

export function scheduleEventRetention(
  jobs: BackgroundJobs,
  deps: { prisma: PrismaClient; days: number | undefined; logger: JobsLogger },
): Promise<void> {
  const { days } = deps;
  if (!days) return Promise.resolve();
  return jobs.repeat(
    EVENT_RETENTION_JOB,
    EVERY_MS,
    async () => {
      const deleted = await purgeEvents(deps.prisma, days);
      if (deleted) deps.logger.info({ deleted, retentionDays: days }, 'deleted events past their retention');
    },
    RETRY,
  );
}
