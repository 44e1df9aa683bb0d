import type { ReviewRequirement } from '@warden/policy';
import type { ReviewOutcome } from '@warden/reviews';
import type { EventRecorder } from './recording/session-recorder.js';

/**
 * What every protocol records of a held statement's or command's review, and how it explains a
 * review that did not approve: one wording for Postgres and SSH sessions.
 */
export const reviewEvents = {
  requested(
    recorder: EventRecorder | undefined,
    ref: number | undefined,
    review: { id: string; expiresAt: Date },
    rule: string,
    requirement: ReviewRequirement,
    justification: string | undefined,
  ): void {
    recorder?.record('gateway', 'review.requested', {
      ref: ref ?? null,
      reviewId: review.id,
      rule,
      approverGroups: [...requirement.approverGroups],
      approvals: requirement.approvals,
      expiresAt: review.expiresAt.toISOString(),
      ...(justification ? { justification } : {}),
    });
  },

  decided(recorder: EventRecorder | undefined, ref: number | undefined, reviewId: string, outcome: ReviewOutcome) {
    recorder?.record('gateway', 'review.decided', {
      ref: ref ?? null,
      reviewId,
      status: outcome.status,
      ...(outcome.by ? { by: outcome.by } : {}),
      ...(outcome.comment ? { comment: outcome.comment } : {}),
    });
  },

  /** `review <id> was denied by alice: not now`: why the statement or command does not run. */
  refusal(reviewId: string, outcome: ReviewOutcome): string {
    const who = outcome.by ? ` by ${outcome.by.name}` : '';
    const why = outcome.comment ? `: ${outcome.comment}` : '';
    return `review ${reviewId} was ${outcome.status}${who}${why}`;
  },
};
