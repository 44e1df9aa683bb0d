import type { PrismaClient } from '@warden/db';
import { orderedEnvelope, signWebhook, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from '@warden/events';
import type { SecretBox } from '@warden/runtime';
import { eventMetrics } from '@warden/runtime/metrics';
import type { BackgroundJobs, JobsLogger, RetryPolicy } from './background-jobs.js';
import { OutboundRefused, postOutbound, type OutboundPolicy } from './outbound-http.js';

/**
 * Webhook delivery of catalog events: one job per WebhookDelivery row (the dispatcher creates
 * the row once per subscription and event, then queues the job with the row id as job id, so a
 * delivery is queued once even when several replicas see the event). Each try POSTs the event
 * envelope, signed (see signWebhook); a non-2xx answer or a network error is retried with
 * exponential backoff, and after the last try the delivery is `failed`: the dead-letter list
 * (GET /api/webhooks/:id/deliveries?status=failed), from where POST .../redeliver queues it again.
 */
export const WEBHOOK_DELIVERY_JOB = 'webhook-delivery';
const DELIVERY_TIMEOUT_MS = 10_000;
/** Kept of a failing receiver's answer in lastError: enough to debug, not a data dump. */
const MAX_ERROR_CHARS = 300;
/** Deliveries in flight per API replica: one slow or unreachable receiver must not hold up the others. */
const DELIVERY_CONCURRENCY = 16;

export interface WebhookDeliveryJob {
  deliveryId: string;
}

export function webhookRetry(attempts: number, delayMs: number): RetryPolicy {
  return { attempts, backoff: { type: 'exponential', delay: delayMs } };
}

export interface WebhookDeliveryDeps {
  prisma: PrismaClient;
  secretBox: SecretBox;
  jobs: BackgroundJobs;
  retry: RetryPolicy;
  logger: JobsLogger;
  /** Which addresses deliveries may reach (WARDEN_WEBHOOK_ALLOWED_NETWORKS). */
  outbound: OutboundPolicy;
}

/** The subscription's secret is sealed with WARDEN_SECRET_KEY, bound to the subscription id. */
export function sealWebhookSecret(secretBox: SecretBox, subscriptionId: string, secret: string): string {
  return secretBox.seal(secret, `webhook:${subscriptionId}`);
}

function openWebhookSecret(secretBox: SecretBox, subscriptionId: string, sealed: string): string {
  return secretBox.open(sealed, `webhook:${subscriptionId}`);
}

/** Queues the delivery; idempotent per `jobId` (the delivery id, or a redelivery's own id). */
export function queueDelivery(
  deps: Pick<WebhookDeliveryDeps, 'jobs' | 'retry'>,
  deliveryId: string,
  jobId = deliveryId,
) {
  return deps.jobs.enqueue<WebhookDeliveryJob>(WEBHOOK_DELIVERY_JOB, { deliveryId }, deps.retry, { jobId });
}

/** One try; throws (so the job is retried) unless the receiver answered 2xx. */
export async function deliverWebhook(deps: WebhookDeliveryDeps, deliveryId: string, attempt: number): Promise<string> {
  const delivery = await deps.prisma.webhookDelivery.findUnique({
    where: { id: deliveryId },
    include: { subscription: true, event: { select: { envelope: true } } },
  });
  if (!delivery) return 'unknown delivery';
  if (delivery.status === 'delivered') return 'already delivered';
  const { subscription } = delivery;
  if (!subscription.enabled) return 'subscription disabled';
  const body = JSON.stringify(orderedEnvelope(delivery.event.envelope));
  const timestamp = Math.floor(Date.now() / 1000);
  const secret = openWebhookSecret(deps.secretBox, subscription.id, subscription.secret);
  let status: number | null = null;
  let error: string | null = null;
  let refused = false;
  try {
    const res = await postOutbound(deps.outbound, subscription.url, {
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Warden-Webhook/1',
        'x-warden-event': delivery.eventType,
        'x-warden-event-id': delivery.eventId,
        'x-warden-delivery': delivery.id,
        [WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
        [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
      },
      body,
      timeoutMs: DELIVERY_TIMEOUT_MS,
      maxBodyBytes: MAX_ERROR_CHARS,
    });
    status = res.status;
    if (!res.ok) error = `HTTP ${res.status}: ${res.body.slice(0, MAX_ERROR_CHARS)}`;
  } catch (err) {
    // URLs may carry a token in their path: name the host only (OutboundRefused does).
    refused = err instanceof OutboundRefused;
    error = refused
      ? `refused: ${(err as Error).message}`
      : `${(err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError' ? 'timed out' : 'could not connect'} (${new URL(subscription.url).host})`;
  }
  // A refused address stays refused on every try: straight to the dead letters, no retries.
  const last = refused || attempt >= deps.retry.attempts;
  const outcome = error === null ? 'delivered' : last ? 'failed' : 'pending';
  await deps.prisma.webhookDelivery.update({
    where: { id: delivery.id },
    data: {
      status: outcome,
      attempts: { increment: 1 },
      lastStatus: status,
      lastError: error,
      ...(outcome === 'delivered' ? { deliveredAt: new Date() } : {}),
    },
  });
  eventMetrics.deliveries.inc({ result: outcome === 'pending' ? 'retry' : outcome });
  if (error !== null && !refused) throw new Error(`webhook "${subscription.name}": ${error}`);
  return outcome;
}

export function startWebhookDeliveries(deps: WebhookDeliveryDeps): void {
  deps.jobs.process<WebhookDeliveryJob>(
    WEBHOOK_DELIVERY_JOB,
    async ({ deliveryId }, { attempt }) => deliverWebhook(deps, deliveryId, attempt),
    { concurrency: DELIVERY_CONCURRENCY },
  );
}
