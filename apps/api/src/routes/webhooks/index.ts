import { randomBytes } from 'node:crypto';
import { Type } from 'typebox';
import type { WebhookDelivery, WebhookSubscription } from '@warden/db';
import { isEventType } from '@warden/events';
import { badRequest, conflict, notFound } from '../../errors.js';
import { byIdOrName, isUuid } from '../../lookup.js';
import { queueDelivery, sealWebhookSecret, webhookRetry } from '../../jobs/webhook-delivery.js';
import { requireRole } from '../../plugins/auth.js';
import { errors, IdParams, RefParams } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { isIP } from 'node:net';
import type { OutboundPolicy } from '../../jobs/outbound-http.js';
import {
  CreatedWebhook,
  DeliveryList,
  DeliveryQuery,
  Delivery,
  Webhook,
  WebhookBody,
  WebhookPatch,
} from './schemas.js';

function present(s: WebhookSubscription) {
  return {
    id: s.id,
    name: s.name,
    url: s.url,
    events: s.events,
    enabled: s.enabled,
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  };
}

function presentDelivery(d: WebhookDelivery) {
  return {
    id: d.id,
    subscriptionId: d.subscriptionId,
    eventId: d.eventId,
    eventType: d.eventType,
    status: d.status,
    attempts: d.attempts,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
  };
}

function checkEventTypes(events: string[] | undefined): void {
  const unknown = (events ?? []).map((e, i) => ({ e, i })).filter(({ e }) => !isEventType(e));
  if (unknown.length)
    throw badRequest(
      'unknown event type',
      unknown.map(({ e, i }) => ({ field: `body.events.${i}`, message: `"${e}" is not in the event catalog` })),
    );
}

/**
 * A parsable http(s) URL without user:password (it would be shown back on every read), and not
 * an internal IP address the outbound policy refuses (names are checked at each delivery, when
 * they are resolved).
 */
function checkUrl(url: string | undefined, outbound: OutboundPolicy): void {
  if (url === undefined) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest('invalid webhook URL', [{ field: 'body.url', message: 'not a URL' }]);
  }
  if (parsed.username || parsed.password)
    throw badRequest('invalid webhook URL', [
      { field: 'body.url', message: 'no credentials in the URL: the signature authenticates Warden' },
    ]);
  const bare = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  // *.localhost is loopback by definition (RFC 6761), whatever DNS says.
  const host = bare === 'localhost' || bare.endsWith('.localhost') ? '127.0.0.1' : bare;
  if (isIP(host) !== 0 && !outbound.permits(host))
    throw badRequest('invalid webhook URL', [
      {
        field: 'body.url',
        message: 'an internal address: list its network in WARDEN_WEBHOOK_ALLOWED_NETWORKS to allow it',
      },
    ]);
}

/**
 * Webhook subscriptions to the event catalog (admins only). The signing secret is write-only:
 * stored sealed, never returned except once when Warden generated it. Deliveries are listed per
 * subscription; `failed` ones are the dead letters, which redeliver queues again.
 */
export async function webhookRoutes(app: ApiInstance) {
  const { prisma, secretBox, audit, config } = app.services;
  const admin = { preHandler: requireRole('admin') };
  const tags = ['webhooks'];
  const retry = webhookRetry(config.webhookAttempts, config.webhookRetryDelayMs);

  async function find(ref: string) {
    const found = await prisma.webhookSubscription.findFirst({ where: byIdOrName(ref) });
    if (!found) throw notFound('webhook', ref);
    return found;
  }

  async function uniqueName<T>(work: () => Promise<T>, name: string | undefined): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if ((err as { code?: string }).code === 'P2002') throw conflict(`a webhook named "${name}" exists`);
      throw err;
    }
  }

  app.get('/', { ...admin, schema: { tags, response: { 200: Type.Array(Webhook), ...errors(403) } } }, async () =>
    (await prisma.webhookSubscription.findMany({ orderBy: { name: 'asc' } })).map(present),
  );

  app.get(
    '/:ref',
    { ...admin, schema: { tags, params: RefParams, response: { 200: Webhook, ...errors(403, 404) } } },
    async (req) => present(await find(req.params.ref)),
  );

  app.post(
    '/',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Subscribe a URL to catalog events (signed with X-Warden-Signature, see docs/events.md)',
        body: WebhookBody,
        response: { 201: CreatedWebhook, ...errors(400, 403, 409) },
      },
    },
    async (req, reply) => {
      const { secret: given, ...body } = req.body;
      checkUrl(body.url, app.services.outbound);
      checkEventTypes(body.events);
      const secret = given ?? `whsec_${randomBytes(24).toString('base64url')}`;
      const created = await uniqueName(
        () =>
          prisma.$transaction(async (tx) => {
            const row = await tx.webhookSubscription.create({ data: { ...body, secret: '' } });
            return tx.webhookSubscription.update({
              where: { id: row.id },
              data: { secret: sealWebhookSecret(secretBox, row.id, secret) },
            });
          }),
        body.name,
      );
      await audit.record(req, 'webhook.create', { type: 'webhook', id: created.id, name: created.name }, req.body);
      return reply.code(201).send({ ...present(created), ...(given ? {} : { secret }) });
    },
  );

  app.patch(
    '/:ref',
    {
      ...admin,
      schema: {
        tags,
        params: RefParams,
        body: WebhookPatch,
        response: { 200: Webhook, ...errors(400, 403, 404, 409) },
      },
    },
    async (req) => {
      const current = await find(req.params.ref);
      const { secret, ...body } = req.body;
      checkUrl(body.url, app.services.outbound);
      checkEventTypes(body.events);
      const updated = await uniqueName(
        () =>
          prisma.webhookSubscription.update({
            where: { id: current.id },
            data: { ...body, ...(secret ? { secret: sealWebhookSecret(secretBox, current.id, secret) } : {}) },
          }),
        body.name,
      );
      await audit.record(req, 'webhook.update', { type: 'webhook', id: updated.id, name: updated.name }, req.body);
      return present(updated);
    },
  );

  app.delete(
    '/:ref',
    { ...admin, schema: { tags, params: RefParams, response: { 204: Type.Null(), ...errors(403, 404) } } },
    async (req, reply) => {
      const current = await find(req.params.ref);
      await prisma.webhookSubscription.delete({ where: { id: current.id } });
      await audit.record(req, 'webhook.delete', { type: 'webhook', id: current.id, name: current.name });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/:ref/deliveries',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Deliveries of a webhook, newest first; status=failed is the dead-letter list',
        params: RefParams,
        querystring: DeliveryQuery,
        response: { 200: DeliveryList, ...errors(400, 403, 404) },
      },
    },
    async (req) => {
      const subscription = await find(req.params.ref);
      const where = { subscriptionId: subscription.id, ...(req.query.status ? { status: req.query.status } : {}) };
      const [deliveries, total] = await Promise.all([
        prisma.webhookDelivery.findMany({
          where,
          orderBy: { createdAt: 'desc' },
          take: req.query.limit ?? 100,
          skip: req.query.offset ?? 0,
        }),
        prisma.webhookDelivery.count({ where }),
      ]);
      return { deliveries: deliveries.map(presentDelivery), total };
    },
  );

  app.post(
    '/deliveries/:id/redeliver',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Queue a delivery again (typically a failed one), with a fresh set of retries',
        params: IdParams,
        response: { 202: Delivery, ...errors(403, 404) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const found = isUuid(id) ? await prisma.webhookDelivery.findUnique({ where: { id } }) : null;
      if (!found) throw notFound('delivery', id);
      const delivery = await prisma.webhookDelivery.update({
        where: { id },
        data: { status: 'pending', lastError: null },
      });
      // Its own job id: the original job may still be kept by BullMQ after it failed.
      await queueDelivery({ jobs: app.jobs, retry }, id, `${id}-redeliver-${Date.now()}`);
      await audit.record(req, 'webhook.redeliver', { type: 'webhook-delivery', id }, { eventId: found.eventId });
      return reply.code(202).send(presentDelivery(delivery));
    },
  );
}
