import { createHmac } from 'node:crypto';
import fp from 'fastify-plugin';
import type { ControlBus } from '@warden/control-bus';
import type { PrismaClient } from '@warden/db';
import { findReviewRule } from '@warden/policy';
import {
  loadReview,
  REVIEW_NOTIFICATION_JOB,
  reviewUrl,
  type ReviewDetails,
  type ReviewNotificationJob,
  type ReviewService,
} from '@warden/reviews';
import type { SecretBox } from '@warden/runtime';
import { openReviewSecret } from '../routes/policies/rules.js';
import { connectionReviewRules } from '../routes/reviews/rules.js';
import type { ApiInstance } from '../types.js';
import { postOutbound, type OutboundPolicy } from './outbound-http.js';
import type { BackgroundJobs, JobsLogger, RetryPolicy } from './background-jobs.js';

/**
 * Review notifications: every new review (made by a gateway or by an access request here) is
 * announced on the bus as review.created; one API instance claims it and enqueues a job that POSTs
 * a Slack-compatible message to the review rule's webhook, signed with the rule's secret.
 */

/** 5 tries: now, then after 1, 2, 4 and 8 s. A review waits minutes; later than that is too late. */
export const REVIEW_NOTIFICATION_RETRY: RetryPolicy = { attempts: 5, backoff: { type: 'exponential', delay: 1000 } };
/** How often overdue and orphaned reviews are finished (see sweepReviews). */
export const REVIEW_SWEEP_JOB = 'review-sweep';
export const REVIEW_SWEEP_EVERY_MS = 30_000;
const DELIVERY_TIMEOUT_MS = 10_000;
/** Slack refuses a section text over 3000 characters. */
const MAX_STATEMENT_CHARS = 2800;

export interface ReviewJobsDeps {
  prisma: PrismaClient;
  secretBox: SecretBox;
  bus: ControlBus;
  jobs: BackgroundJobs;
  reviews: ReviewService;
  publicUrl: string;
  logger: JobsLogger;
  /** Which addresses notifications may reach (WARDEN_WEBHOOK_ALLOWED_NETWORKS). */
  outbound: OutboundPolicy;
}

export type NotificationResult =
  | { delivered: true; status: number }
  | { delivered: false; reason: 'unknown review' | 'already decided' | 'no webhook' };

/** The message: `text` for any webhook, `blocks` for Slack, `warden` for programs. */
export function notificationBody(review: ReviewDetails, publicUrl: string, timestamp: number) {
  const url = reviewUrl(publicUrl, review.id);
  const who = review.requester.name;
  const where = review.connection.name;
  const needs = `${review.requiredApprovals === 1 ? 'an approval' : `${review.requiredApprovals} approvals`} from ${review.approverGroups.join(', ')}`;
  const what =
    review.kind === 'statement'
      ? `${who} wants to run a statement on ${where}`
      : `${who} asks for access to ${where} for ${review.accessSeconds ?? 0} seconds`;
  const statement =
    review.statement && review.statement.length > MAX_STATEMENT_CHARS
      ? `${review.statement.slice(0, MAX_STATEMENT_CHARS)}… (${review.statement.length} characters, see Warden)`
      : review.statement;
  const blocks: Record<string, unknown>[] = [
    {
      type: 'section',
      text: { type: 'mrkdwn', text: `*Review needed*: ${what} (rule \`${review.ruleName ?? '-'}\`, needs ${needs})` },
    },
  ];
  if (statement) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: '```' + statement + '```' } });
  const context = [`expires ${review.expiresAt.toISOString()}`];
  if (review.justification) context.unshift(`justification: ${review.justification}`);
  blocks.push({ type: 'context', elements: context.map((text) => ({ type: 'mrkdwn', text })) });
  blocks.push({
    type: 'actions',
    elements: [{ type: 'button', text: { type: 'plain_text', text: 'Review in Warden' }, url }],
  });
  return {
    text: `Review needed: ${what} (rule ${review.ruleName ?? '-'}). Approve or deny: ${url}`,
    blocks,
    warden: {
      reviewId: review.id,
      kind: review.kind,
      rule: review.ruleName,
      requester: review.requester,
      connection: review.connection,
      statement: review.statement,
      parameters: review.parameters,
      statementHash: review.statementHash,
      justification: review.justification,
      accessSeconds: review.accessSeconds,
      approverGroups: review.approverGroups,
      requiredApprovals: review.requiredApprovals,
      expiresAt: review.expiresAt.toISOString(),
      url,
      // Also in X-Warden-Timestamp; in the body it is covered by the signature.
      timestamp,
    },
  };
}

/** `sha256=<hex HMAC-SHA256 of the raw body>`, the X-Warden-Signature header. */
export function signature(secret: string, rawBody: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex')}`;
}

/** One delivery attempt; throws (so the job is retried) on a network error or a non-2xx answer. */
export async function deliverReviewNotification(
  deps: Pick<ReviewJobsDeps, 'prisma' | 'secretBox' | 'publicUrl' | 'outbound'>,
  reviewId: string,
): Promise<NotificationResult> {
  const review = await loadReview(deps.prisma, reviewId);
  if (!review) return { delivered: false, reason: 'unknown review' };
  // Decided before the message went out (or between retries): nobody needs to be asked any more.
  if (review.status !== 'pending') return { delivered: false, reason: 'already decided' };
  const rule = review.ruleName
    ? findReviewRule(await connectionReviewRules(deps.prisma, review.connectionId), review.ruleName)
    : undefined;
  if (!rule?.notify) return { delivered: false, reason: 'no webhook' };
  const timestamp = Math.floor(Date.now() / 1000);
  const raw = JSON.stringify(notificationBody(review, deps.publicUrl, timestamp));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Warden-Webhook/1',
    'x-warden-timestamp': String(timestamp),
    'x-warden-review': review.id,
  };
  if (rule.notify.secret)
    headers['x-warden-signature'] = signature(openReviewSecret(deps.secretBox, rule.notify.secret), raw);
  const res = await postOutbound(deps.outbound, rule.notify.webhookUrl, {
    headers,
    body: raw,
    timeoutMs: DELIVERY_TIMEOUT_MS,
  });
  // Webhook URLs often carry a token in their path (Slack's do): errors name the host only.
  if (!res.ok) throw new Error(`webhook at ${new URL(rule.notify.webhookUrl).host} answered ${res.status}`);
  return { delivered: true, status: res.status };
}

/**
 * Wires the notification and sweep jobs to the bus; returns what undoes the subscription. Every
 * API instance receives review.created, so the bus's claim picks the one that enqueues. The sweep
 * is scheduled in the background: an unreachable Redis delays it (logged), not the API.
 */
export function startReviewJobs(deps: ReviewJobsDeps): () => void {
  deps.jobs.process<ReviewNotificationJob>(REVIEW_NOTIFICATION_JOB, async ({ reviewId }, { attempt }) => {
    const result = await deliverReviewNotification(deps, reviewId);
    deps.logger.info({ reviewId, attempt, ...result }, 'review notification');
    return result;
  });
  const off = deps.bus.subscribe('review.created', ({ reviewId }) => {
    void (async () => {
      if (!(await deps.bus.claim(`${REVIEW_NOTIFICATION_JOB}:${reviewId}`, 24 * 3600_000))) return;
      await deps.jobs.enqueue<ReviewNotificationJob>(REVIEW_NOTIFICATION_JOB, { reviewId }, REVIEW_NOTIFICATION_RETRY);
    })().catch((err: unknown) => deps.logger.error({ err, reviewId }, 'could not queue a review notification'));
  });
  void deps.jobs
    .repeat(REVIEW_SWEEP_JOB, REVIEW_SWEEP_EVERY_MS, async () => {
      const { expired, cancelled } = await deps.reviews.sweep();
      if (expired.length || cancelled.length) {
        deps.logger.info({ expired: expired.length, cancelled: cancelled.length }, 'finished abandoned reviews');
      }
    })
    .catch((err: unknown) => deps.logger.error({ err }, 'could not schedule the review sweep'));
  return off;
}

/** Starts the review jobs with the API (after the jobs plugin) and unsubscribes on close. */
export const reviewJobsPlugin = fp(async (app: ApiInstance) => {
  const { prisma, secretBox, bus, reviews, config } = app.services;
  let off = () => {};
  app.addHook('onReady', async () => {
    off = startReviewJobs({
      prisma,
      secretBox,
      bus,
      reviews,
      jobs: app.jobs,
      publicUrl: config.publicUrl,
      logger: app.log,
      outbound: app.services.outbound,
    });
  });
  app.addHook('onClose', async () => off());
});
