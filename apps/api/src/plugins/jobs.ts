import fp from 'fastify-plugin';
import { createBackgroundJobs, type BackgroundJobs } from '../jobs/background-jobs.js';
import { scheduleRetention } from '../jobs/retention.js';
import type { ApiInstance } from '../types.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Background work that lives as long as the API: BullMQ with Redis, in-process timers without. */
    jobs: BackgroundJobs;
  }
}

/**
 * Starts the API's background jobs with it and stops them on close, so a closed
 * API leaves no timer and no Redis connection behind. Schedules are registered
 * once the app is ready, without holding up start-up: an unreachable Redis delays
 * the retention schedule (and is logged), not the API.
 */
export const jobsPlugin = fp(async (app: ApiInstance) => {
  const { prisma, config } = app.services;
  const jobs = await createBackgroundJobs({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    logger: app.log,
  });
  app.decorate('jobs', jobs);
  let scheduling: Promise<void> = Promise.resolve();
  app.addHook('onReady', async () => {
    scheduling = scheduleRetention(jobs, { prisma, logger: app.log, intervalMs: config.retentionIntervalMs }).then(
      () => app.log.debug({ mode: jobs.mode }, 'background jobs scheduled'),
      (err: unknown) => app.log.error({ err }, 'could not schedule the recording retention job'),
    );
  });
  app.addHook('onClose', async () => {
    await jobs.close();
    await scheduling;
  });
});
