import fp from 'fastify-plugin';
import { metricsAuthorized, metricsRegistry, registerPendingReviewSource } from '@warden/runtime/metrics';
import { scheduleEventRetention } from '../jobs/event-retention.js';
import { queueDelivery, startWebhookDeliveries, webhookRetry } from '../jobs/webhook-delivery.js';
import type { ApiInstance } from '../types.js';
import { EventDispatcher } from './dispatcher.js';
import { openEventLog } from './event-log.js';
import { EventStreamHub } from './event-stream.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** This replica's SSE fan-out of catalog events (GET /api/events/stream). */
    eventStream: EventStreamHub;
  }
}

/**
 * Prometheus /metrics (the process registry: in the embedded stack it includes the gateway's
 * metrics) and the event catalog's delivery: the outbox dispatcher (webhook deliveries, JSON
 * lines), the webhook delivery jobs and the SSE hub. Registered at the root before the routes.
 */
export const observabilityPlugin = fp(async (app: ApiInstance) => {
  const { prisma, secretBox, bus, config, audit } = app.services;
  const logger = app.log.child({ component: 'events' });
  audit.events.useBus(bus);
  const retry = webhookRetry(config.webhookAttempts, config.webhookRetryDelayMs);
  const eventLog = openEventLog(config.eventsLog);
  const hub = new EventStreamHub(prisma, bus, logger);
  const dispatcher = new EventDispatcher({
    prisma,
    bus,
    log: eventLog,
    queue: (deliveryId) => queueDelivery({ jobs: app.jobs, retry }, deliveryId),
    logger,
    onDispatched: () => hub.wake(),
  });
  app.decorate('eventStream', hub);
  // NaN while the database cannot answer: /metrics must keep working during an outage (its other
  // series, warden_api_control_plane_unavailable_total among them, are what operators look at then).
  const offPending = registerPendingReviewSource(() =>
    prisma.review.count({ where: { status: 'pending' } }).catch((err: unknown) => {
      logger.debug({ err }, 'pending reviews not counted');
      return NaN;
    }),
  );

  // The id Fastify's request logs carry (reqId), so a caller can quote it when reporting a problem.
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (!metricsAuthorized(config.metricsToken, req.headers.authorization)) {
      return reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'metrics token required' });
    }
    const text = await metricsRegistry.metrics();
    return reply.type(metricsRegistry.contentType).send(text);
  });

  app.addHook('onReady', async () => {
    startWebhookDeliveries({ prisma, secretBox, jobs: app.jobs, retry, logger, outbound: app.services.outbound });
    await hub.start();
    dispatcher.start();
    // In the background: an unreachable Redis delays the schedule (logged), not the API.
    void scheduleEventRetention(app.jobs, { prisma, days: config.eventRetentionDays, logger }).catch((err: unknown) =>
      logger.error({ err }, 'could not schedule event retention'),
    );
  });
  // Before the server closes: open streams would otherwise keep it waiting.
  app.addHook('preClose', async () => {
    await hub.stop();
  });
  app.addHook('onClose', async () => {
    offPending();
    await dispatcher.stop();
    await eventLog.close();
  });
});
