import type { Role } from '@warden/db';
import { ReviewError } from './errors.js';

/** Who decides: what @warden/access's Principal carries. */
export interface Decider {
  identityId: string;
  name: string;
  groups: readonly string[];
  role: Role;
}

/** What eligibility depends on, from a Review row. */
export interface ReviewParties {
  requesterId: string;
  approverGroups: readonly string[];
  allowSameGroup: boolean;
}

/**
 * Why `decider` may not decide the review, or undefined when they may. Membership of an approver
 * group is the only way in: admins are not approvers by role (an admin who should approve joins
 * an approver group), so the people who can wave a risky statement through are exactly the ones
 * the rule names (separation of duties: the admin role administers Warden, it does not approve).
 * The requester never decides their own review; with allowSameGroup false, nobody sharing a group
 * with the requester does either (`requesterGroups` are the requester's current groups).
 */
export function decisionRefusal(
  review: ReviewParties,
  decider: Pick<Decider, 'identityId' | 'groups'>,
  requesterGroups: readonly string[],
): ReviewError | undefined {
  if (decider.identityId === review.requesterId) {
    return new ReviewError('own_review', 'the requester cannot decide their own review');
  }
  if (!review.approverGroups.some((g) => decider.groups.includes(g))) {
    return new ReviewError(
      'not_an_approver',
      `only members of ${review.approverGroups.join(', ')} may decide this review`,
    );
  }
  if (!review.allowSameGroup) {
    const shared = requesterGroups.filter((g) => decider.groups.includes(g));
    if (shared.length) {
      return new ReviewError(
        'same_group',
        `members of the requester's groups (${shared.join(', ')}) may not decide this review`,
      );
    }
  }
  return undefined;
}
