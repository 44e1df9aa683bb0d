import type { Principal } from '@warden/access';
import type { AccessGrant, Prisma, PrismaClient } from '@warden/db';
import { decisionRefusal, reviewInclude, reviewUrl } from '@warden/reviews';

/** The package's review include, plus the requester's groups (who may decide depends on them). */
export const reviewWithGroups = {
  ...reviewInclude,
  requester: {
    select: { id: true, name: true, memberships: { select: { group: { select: { name: true } } } } },
  },
} as const satisfies Prisma.ReviewInclude;

export type ReviewRow = Prisma.ReviewGetPayload<{ include: typeof reviewWithGroups }>;

export function requesterGroups(review: ReviewRow): string[] {
  return review.requester.memberships.map((m) => m.group.name);
}

/** Requester, approvers (members of an approver group), auditors and admins see a review. */
export function canSee(review: Pick<ReviewRow, 'requesterId' | 'approverGroups'>, principal: Principal): boolean {
  return (
    principal.role === 'admin' ||
    principal.role === 'auditor' ||
    review.requesterId === principal.identityId ||
    review.approverGroups.some((g) => principal.groups.includes(g))
  );
}

/** Whether the caller may approve or deny it now (the same checks as decideReview). */
export function canDecide(review: ReviewRow, principal: Principal, now = new Date()): boolean {
  return (
    review.status === 'pending' &&
    review.expiresAt > now &&
    !review.decisions.some((d) => d.identityId === principal.identityId) &&
    decisionRefusal(review, principal, requesterGroups(review)) === undefined
  );
}

export function presentGrant(
  grant: AccessGrant,
  identity: { id: string; name: string },
  connection: { id: string; name: string },
  now = new Date(),
) {
  return {
    id: grant.id,
    identity,
    connection,
    reviewId: grant.reviewId,
    startsAt: grant.startsAt.toISOString(),
    endsAt: grant.endsAt.toISOString(),
    revokedAt: grant.revokedAt?.toISOString() ?? null,
    active: !grant.revokedAt && grant.startsAt <= now && grant.endsAt > now,
  };
}

export function presentReview(review: ReviewRow, principal: Principal, publicUrl: string) {
  const requester = { id: review.requester.id, name: review.requester.name };
  return {
    id: review.id,
    kind: review.kind,
    status: review.status,
    rule: review.ruleName,
    requester,
    connection: review.connection,
    sessionId: review.sessionId,
    statement: review.statement,
    parameters: (review.parameters as (string | null | { binary: string })[] | null) ?? null,
    statementHash: review.statementHash,
    justification: review.justification,
    accessSeconds: review.accessSeconds,
    approverGroups: review.approverGroups,
    requiredApprovals: review.requiredApprovals,
    approvals: review.decisions.filter((d) => d.decision === 'approve').length,
    allowRequesterGroup: review.allowSameGroup,
    decisions: review.decisions.map((d) => ({
      by: d.identity,
      decision: d.decision as 'approve' | 'deny',
      comment: d.comment,
      at: d.createdAt.toISOString(),
    })),
    grant: review.accessGrant ? presentGrant(review.accessGrant, requester, review.connection) : null,
    canDecide: canDecide(review, principal),
    url: reviewUrl(publicUrl, review.id),
    expiresAt: review.expiresAt.toISOString(),
    decidedAt: review.decidedAt?.toISOString() ?? null,
    createdAt: review.createdAt.toISOString(),
  };
}

/** A page of reviews matching `where`, newest first, as the caller may see them. */
export async function listReviews(
  prisma: PrismaClient,
  where: Prisma.ReviewWhereInput,
  page: { limit: number; offset: number },
  principal: Principal,
  publicUrl: string,
) {
  const rows = await prisma.review.findMany({
    where,
    include: reviewWithGroups,
    orderBy: { createdAt: 'desc' },
    take: page.limit,
    skip: page.offset,
  });
  return rows.map((r) => presentReview(r, principal, publicUrl));
}
