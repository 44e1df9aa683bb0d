/** Why a review operation was refused; `status` is the HTTP status the API answers with. */
export type ReviewErrorCode =
  | 'not_found'
  | 'not_pending'
  | 'expired'
  | 'own_review'
  | 'not_an_approver'
  | 'same_group'
  | 'already_decided'
  | 'justification_required'
  | 'duration_too_long'
  | 'already_requested';

const STATUS: Record<ReviewErrorCode, 400 | 403 | 404 | 409> = {
  not_found: 404,
  not_pending: 409,
  expired: 409,
  own_review: 403,
  not_an_approver: 403,
  same_group: 403,
  already_decided: 409,
  justification_required: 400,
  duration_too_long: 400,
  already_requested: 409,
};

export class ReviewError extends Error {
  override name = 'ReviewError';
  readonly status: 400 | 403 | 404 | 409;

  constructor(
    readonly code: ReviewErrorCode,
    message: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}
