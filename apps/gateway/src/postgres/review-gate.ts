import { BackendSerializer } from '@warden/pg-wire';
import { reviewUrl, type ReviewService } from '@warden/reviews';
import type { EventRecorder } from '../recording/session-recorder.js';
import { reviewEvents } from '../review-events.js';
import type { SessionCounters } from '../session-tracker.js';
import { justificationOf, type HeldStatement } from './review-hold.js';
import type { StatementGuard } from './statement-guard.js';

/** What a ReviewGate needs of the Postgres session whose statements it holds. */
export interface ReviewGateSession {
  id: string;
  identityId: string;
  connectionId: string;
  counters: SessionCounters;
  recorder: EventRecorder | undefined;
  /** Refuses a statement with the error the client receives in its place. */
  guard: StatementGuard;
  /** Writes a frame straight to the client while its statement waits (the NOTICE naming the review). */
  notifyClient(frame: Buffer): void;
  /** Aborted when the session ends: the review is then cancelled, not left pending. */
  lifetime: AbortSignal;
}

/**
 * Just-in-time approval of one held statement: asks for the review, tells the client where it
 * can be approved, records the request and the outcome, and waits. The answer is the frame to
 * forward: the statement itself once approved, otherwise the error the client gets instead.
 */
export class ReviewGate {
  constructor(
    private readonly reviews: ReviewService,
    private readonly publicUrl: string,
    private readonly session: ReviewGateSession,
  ) {}

  async decide(held: HeldStatement): Promise<Buffer> {
    const { session } = this;
    const { review: decision } = held;
    const requirement = decision.review;
    const justification = justificationOf(held.text);
    if (requirement.requireJustification && !justification) {
      session.counters.blocked += 1;
      return session.guard.refuse(
        held.kind,
        `review rule "${decision.rule}" needs a justification: add a comment such as "-- justification: ticket 123" to the statement`,
      );
    }
    const review = await this.reviews.createStatementReview({
      requester: { identityId: session.identityId },
      connectionId: session.connectionId,
      sessionId: session.id,
      requirement,
      statement: held.text,
      params: held.params,
      justification: justification ?? null,
    });
    session.counters.reviews = (session.counters.reviews ?? 0) + 1;
    const url = reviewUrl(this.publicUrl, review.id);
    reviewEvents.requested(session.recorder, held.seq, review, decision.rule, requirement, justification);
    session.notifyClient(
      BackendSerializer.noticeResponse({
        severity: 'NOTICE',
        severityNonLocalized: 'NOTICE',
        code: '01000',
        message: `Warden: this statement needs approval (rule "${decision.rule}"); waiting for review ${review.id}`,
        detail: decision.message,
        hint: `Approve or deny it at ${url}`,
      }),
    );
    const outcome = await this.reviews.waitForDecision(review, {
      signal: session.lifetime,
      abortReason: 'the client session ended while the statement waited',
    });
    reviewEvents.decided(session.recorder, held.seq, review.id, outcome);
    if (outcome.status === 'approved') return held.frame;
    session.counters.blocked += 1;
    return session.guard.refuse(held.kind, reviewEvents.refusal(review.id, outcome));
  }
}
