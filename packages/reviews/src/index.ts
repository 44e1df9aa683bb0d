export { activeGrant, connectionRequiresGrant, revokeGrant } from './access.js';
export { decisionRefusal, type Decider, type ReviewParties } from './eligibility.js';
export { ReviewError, type ReviewErrorCode } from './errors.js';
export {
  cancelPendingReviews,
  cancelReview,
  createStatementReview,
  decideReview,
  expireReview,
  loadReview,
  requestAccess,
  reviewInclude,
  sweepReviews,
  type AccessRequestInput,
  type ChangeContext,
  type DecideInput,
  type DecideResult,
  type FinalStatus,
  type PendingFilter,
  type ReviewDetails,
  type StatementReviewInput,
} from './reviews.js';
export {
  ReviewService,
  type ReviewOutcome,
  type ReviewServiceOptions,
  type ReviewsLogger,
  type WaitOptions,
} from './service.js';
export { loadParams, statementHash, storeParams, type StatementParam, type StoredParam } from './statement-hash.js';

/** The background job the API runs for every new review (see apps/api/src/jobs/review-notifications.ts). */
export const REVIEW_NOTIFICATION_JOB = 'review-notification';
export interface ReviewNotificationJob {
  reviewId: string;
}

/** Where people approve a review: the console page for it. */
export function reviewUrl(publicUrl: string, reviewId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/reviews/${reviewId}`;
}
