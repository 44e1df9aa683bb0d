import type { ControlBus, ReviewDecided, TopicMessages } from '@warden/control-bus';
import type { AccessGrant, PrismaClient, Review } from '@warden/db';
import { EventPublisher } from '@warden/events';
import { revokeGrant } from './access.js';
import {
  cancelPendingReviews,
  cancelReview,
  createStatementReview,
  readDecided,
  recordDecision,
  expireReview,
  loadReview,
  requestAccess,
  sweepReviews,
  type AccessRequestInput,
  type DecideInput,
  type DecideResult,
  type FinalStatus,
  type PendingFilter,
  type ReviewDetails,
  type StatementReviewInput,
} from './reviews.js';

/** The parts of a pino logger the service uses. */
export interface ReviewsLogger {
  warn(obj: object, msg?: string): void;
}

export interface ReviewServiceOptions {
  /** Who system changes (expiry, cancellation) are attributed to in the audit log: `gateway:gw-1`, `api`. */
  actor?: string;
  logger?: ReviewsLogger;
}

/** How a wait for a decision ended. */
export interface ReviewOutcome {
  status: FinalStatus;
  /** Who decided (the denier, or the last approver); absent for expiry and cancellation. */
  by?: { id: string; name: string };
  /** The decider's comment, or the reason of an expiry/cancellation. */
  comment?: string;
}

export interface WaitOptions {
  /** Aborting (the client went away) cancels the review, unless it was decided meanwhile. */
  signal?: AbortSignal;
  /** Why, when `signal` aborts (audited). */
  abortReason?: string;
  /**
   * How often the database is re-read while waiting (default 5 s): the bus says "decided" within
   * milliseconds, this only covers a message lost while Redis was unreachable.
   */
  pollMs?: number;
}

/**
 * The review domain with its messages: every state change goes through the database functions of
 * this package and is then announced on the control bus (review.created → the API notifies;
 * review.decided → the gateway holding the statement resumes; access.revoked → sessions relying
 * on the grant end). The database is the truth and messages only say "look now": a publish that
 * fails is logged, not thrown, since the change is already committed and waiters also poll.
 */
export class ReviewService {
  private readonly actor: string;
  /** review.* catalog events, emitted here so the API and every gateway emit them the same way. */
  readonly events: EventPublisher;

  constructor(
    readonly prisma: PrismaClient,
    readonly bus: ControlBus,
    private readonly options: ReviewServiceOptions = {},
  ) {
    this.actor = options.actor ?? 'warden';
    const logger = options.logger;
    this.events = new EventPublisher(prisma, {
      bus,
      ...(logger ? { logger: { warn: (o, m) => logger.warn(o, m), error: (o, m) => logger.warn(o, m) } } : {}),
    });
  }

  async createStatementReview(input: StatementReviewInput): Promise<Review> {
    const review = await createStatementReview(this.prisma, input);
    await this.announce('review.created', { reviewId: review.id });
    return review;
  }

  async requestAccess(input: AccessRequestInput): Promise<Review> {
    const review = await requestAccess(this.prisma, input);
    await this.announce('review.created', { reviewId: review.id });
    return review;
  }

  /** Announces a final outcome as soon as it commits: the waiting client should not wait for our read-back. */
  async decide(input: DecideInput): Promise<DecideResult> {
    const { reviewId, outcome } = await recordDecision(this.prisma, input);
    if (outcome !== 'pending') {
      const comment = input.comment?.trim();
      await this.announce('review.decided', {
        reviewId,
        status: outcome,
        by: { id: input.decider.identityId, name: input.decider.name },
        ...(comment ? { comment } : {}),
      });
    }
    return { review: await readDecided(this.prisma, reviewId), outcome };
  }

  async expire(reviewId: string, reason: string): Promise<Review | null> {
    const review = await expireReview(this.prisma, reviewId, { reason, actor: this.actor });
    if (review) await this.announce('review.decided', { reviewId, status: 'expired', comment: reason });
    return review;
  }

  async cancel(reviewId: string, reason: string): Promise<Review | null> {
    const review = await cancelReview(this.prisma, reviewId, { reason, actor: this.actor });
    if (review) await this.announce('review.decided', { reviewId, status: 'cancelled', comment: reason });
    return review;
  }

  async cancelPending(filter: PendingFilter, reason: string): Promise<Review[]> {
    const reviews = await cancelPendingReviews(this.prisma, filter, { reason, actor: this.actor });
    for (const r of reviews)
      await this.announce('review.decided', { reviewId: r.id, status: 'cancelled', comment: reason });
    return reviews;
  }

  /** Expires overdue reviews and cancels those whose session ended (see sweepReviews). */
  async sweep(): Promise<{ expired: Review[]; cancelled: Review[] }> {
    const swept = await sweepReviews(this.prisma, { actor: this.actor });
    for (const r of swept.expired) await this.announce('review.decided', { reviewId: r.id, status: 'expired' });
    for (const r of swept.cancelled) await this.announce('review.decided', { reviewId: r.id, status: 'cancelled' });
    return swept;
  }

  async revokeGrant(grantId: string): Promise<{ grant: AccessGrant; revoked: boolean } | null> {
    const result = await revokeGrant(this.prisma, grantId);
    if (result?.revoked) {
      const { grant } = result;
      await this.announce('access.revoked', {
        identityId: grant.identityId,
        connectionId: grant.connectionId,
        grantId: grant.id,
      });
    }
    return result;
  }

  /**
   * Waits until the review is final and says how it ended: what the gateway does while it holds
   * a statement. It listens on the bus before reading the database (a decision made in between
   * is seen either way), expires the review itself when `expiresAt` passes (unless a decision
   * won the race: then that decision is the answer), and cancels it when `signal` aborts.
   */
  waitForDecision(review: Pick<Review, 'id' | 'expiresAt'>, options: WaitOptions = {}): Promise<ReviewOutcome> {
    const { signal } = options;
    return new Promise<ReviewOutcome>((resolve) => {
      let done = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (outcome: ReviewOutcome) => {
        if (done) return;
        done = true;
        off();
        for (const t of timers) clearTimeout(t);
        clearInterval(poll);
        signal?.removeEventListener('abort', onAbort);
        resolve(outcome);
      };
      const off = this.bus.subscribe('review.decided', (m) => {
        if (m.reviewId === review.id) finish(fromMessage(m));
      });
      const check = async () => {
        try {
          const row = await loadReview(this.prisma, review.id);
          if (!row) finish({ status: 'cancelled', comment: 'the review no longer exists' });
          else if (row.status !== 'pending') finish(fromRow(row));
        } catch (err) {
          this.options.logger?.warn({ err, reviewId: review.id }, 'reading a held review failed; still waiting');
        }
      };
      // Settles with `change`'s answer, or with what the row says when someone else finished it first.
      const settle = async (change: () => Promise<Review | null>, outcome: ReviewOutcome) => {
        try {
          if (await change()) finish(outcome);
          else await check();
        } catch (err) {
          this.options.logger?.warn({ err, reviewId: review.id }, 'finishing a held review failed');
          await check();
        }
      };
      const onAbort = () => {
        const reason = options.abortReason ?? 'the client stopped waiting';
        void settle(() => this.cancel(review.id, reason), { status: 'cancelled', comment: reason });
      };
      const poll = setInterval(() => void check(), options.pollMs ?? 5000);
      poll.unref();
      const expire = () => {
        const left = review.expiresAt.getTime() - Date.now();
        // setTimeout holds at most ~24.8 days; re-arm until the expiry really passed.
        if (left > 0) timers.push(setTimeout(expire, Math.min(left, 2 ** 31 - 1)));
        else {
          const reason = 'nobody decided in time';
          void settle(() => this.expire(review.id, reason), { status: 'expired', comment: reason });
        }
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      expire();
      void check();
    });
  }

  private catalog(change: ReviewDecided | { reviewId: string; status?: undefined }): void {
    void loadReview(this.prisma, change.reviewId).then(
      (review) => review && catalogEvent(this.events, review, change),
      (err: unknown) => this.options.logger?.warn({ err, reviewId: change.reviewId }, 'could not emit a review event'),
    );
  }

  private async announce<T extends 'review.created' | 'review.decided' | 'access.revoked'>(
    topic: T,
    message: TopicMessages[T],
  ): Promise<void> {
    if (topic !== 'access.revoked') this.catalog(message as ReviewDecided | { reviewId: string; status?: undefined });
    try {
      await this.bus.publish(topic, message);
    } catch (err) {
      this.options.logger?.warn(
        { err, topic },
        'publishing a review change failed; waiters will read it from the database',
      );
    }
  }
}

/** The catalog event of a review change; off the caller's path (a held client is not kept waiting for it). */
function catalogEvent(
  events: EventPublisher,
  review: ReviewDetails,
  change: ReviewDecided | { reviewId: string; status?: undefined },
): void {
  const context = {
    identity: review.requester,
    connection: review.connection,
    session: review.sessionId ? { id: review.sessionId } : null,
  };
  const base = { reviewId: review.id, kind: review.kind, rule: review.ruleName };
  switch (change.status) {
    case undefined:
      void events.emit('review.requested', context, {
        ...base,
        approverGroups: review.approverGroups,
        requiredApprovals: review.requiredApprovals,
        expiresAt: review.expiresAt.toISOString(),
        statementHash: review.statementHash,
        accessSeconds: review.accessSeconds,
      });
      return;
    case 'approved':
    case 'denied':
      void events.emit(`review.${change.status}`, context, {
        ...base,
        by: change.by ?? null,
        comment: change.comment ?? null,
      });
      return;
    case 'expired':
    case 'cancelled':
      void events.emit(`review.${change.status}`, context, { ...base, reason: change.comment ?? null });
  }
}

function fromMessage(m: ReviewDecided): ReviewOutcome {
  return {
    status: m.status,
    ...(m.by ? { by: m.by } : {}),
    ...(m.comment !== undefined ? { comment: m.comment } : {}),
  };
}

function fromRow(row: ReviewDetails): ReviewOutcome {
  const status = row.status as FinalStatus;
  const last = row.decisions.at(-1);
  if ((status === 'approved' || status === 'denied') && last) {
    return { status, by: last.identity, ...(last.comment ? { comment: last.comment } : {}) };
  }
  return { status };
}
