import type { Prisma, PrismaClient, Review, ReviewKind } from '@warden/db';
import type { AccessRequirement, ReviewRequirement } from '@warden/policy';
import { decisionRefusal, type Decider } from './eligibility.js';
import { ReviewError } from './errors.js';
import { statementHash, storeParams, type StatementParam } from './statement-hash.js';

/** What API responses and waiters need about a review, loaded in one query. */
export const reviewInclude = {
  requester: { select: { id: true, name: true } },
  connection: { select: { id: true, name: true } },
  decisions: {
    include: { identity: { select: { id: true, name: true } } },
    orderBy: { createdAt: 'asc' },
  },
  accessGrant: true,
} as const satisfies Prisma.ReviewInclude;

export type ReviewDetails = Prisma.ReviewGetPayload<{ include: typeof reviewInclude }>;

/** Final states; `pending` is the only other one. */
export type FinalStatus = 'approved' | 'denied' | 'expired' | 'cancelled';

/** Who a gateway- or system-made change is attributed to in the audit log (`gateway:gw-1`). */
export interface ChangeContext {
  reason: string;
  actor?: string;
  now?: Date;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function notFound(reviewId: string): ReviewError {
  return new ReviewError('not_found', `review "${reviewId}" not found`);
}

function requireJustification(requirement: ReviewRequirement, justification: string | null | undefined): string | null {
  const text = justification?.trim() || null;
  if (requirement.requireJustification && !text) {
    throw new ReviewError('justification_required', `rule "${requirement.rule}" requires a justification`);
  }
  return text;
}

export interface StatementReviewInput {
  requester: { identityId: string };
  connectionId: string;
  /** The live session holding the statement; its end cancels the review (sweepReviews). */
  sessionId?: string | null;
  /** From the review decision: approver groups, approvals, timeout are copied into the row. */
  requirement: ReviewRequirement;
  /** Exactly what would run: the Query text, or the Parse text of an extended-protocol statement. */
  statement: string;
  params?: readonly StatementParam[];
  justification?: string | null;
  now?: Date;
}

/** A pending review of one statement, bound to the hash of its text and parameters. */
export async function createStatementReview(prisma: PrismaClient, input: StatementReviewInput): Promise<Review> {
  const now = input.now ?? new Date();
  const { requirement } = input;
  const justification = requireJustification(requirement, input.justification);
  const params = input.params ?? [];
  return prisma.review.create({
    data: {
      kind: 'statement',
      requesterId: input.requester.identityId,
      connectionId: input.connectionId,
      sessionId: input.sessionId ?? null,
      ruleName: requirement.rule,
      statement: input.statement,
      parameters: storeParams(params),
      statementHash: statementHash(input.statement, params),
      justification,
      approverGroups: [...requirement.approverGroups],
      requiredApprovals: requirement.approvals,
      allowSameGroup: requirement.allowRequesterGroup,
      expiresAt: new Date(now.getTime() + requirement.timeoutSeconds * 1000),
      createdAt: now,
    },
  });
}

export interface AccessRequestInput {
  requester: { identityId: string };
  connectionId: string;
  durationSeconds: number;
  /** The connection's access_review rule (`CompiledPolicy.accessReview` / `accessRequirement()`). */
  requirement: AccessRequirement;
  justification?: string | null;
  now?: Date;
}

/**
 * A pending request for a time-boxed access window; approving it creates the AccessGrant
 * (decideReview). One pending request per identity and connection at a time.
 */
export async function requestAccess(prisma: PrismaClient, input: AccessRequestInput): Promise<Review> {
  const now = input.now ?? new Date();
  const { requirement } = input;
  if (input.durationSeconds > requirement.maxDurationSeconds) {
    throw new ReviewError(
      'duration_too_long',
      `rule "${requirement.rule}" allows access windows of at most ${requirement.maxDurationSeconds} seconds`,
    );
  }
  const justification = requireJustification(requirement, input.justification);
  return prisma.$transaction(async (tx) => {
    // Serialises concurrent requests of one identity (the row lock on the identity), so the
    // "one pending request" check cannot be raced.
    await tx.$queryRaw`SELECT id FROM "Identity" WHERE id = ${input.requester.identityId}::uuid FOR UPDATE`;
    const pending = await tx.review.findFirst({
      where: {
        kind: 'access',
        status: 'pending',
        requesterId: input.requester.identityId,
        connectionId: input.connectionId,
        expiresAt: { gt: now },
      },
      select: { id: true },
    });
    if (pending) {
      throw new ReviewError(
        'already_requested',
        `an access request for this connection is already pending (${pending.id})`,
      );
    }
    return tx.review.create({
      data: {
        kind: 'access',
        requesterId: input.requester.identityId,
        connectionId: input.connectionId,
        ruleName: requirement.rule,
        justification,
        approverGroups: [...requirement.approverGroups],
        requiredApprovals: requirement.approvals,
        allowSameGroup: requirement.allowRequesterGroup,
        accessSeconds: input.durationSeconds,
        expiresAt: new Date(now.getTime() + requirement.timeoutSeconds * 1000),
        createdAt: now,
      },
    });
  });
}

export interface DecideInput {
  reviewId: string;
  decider: Decider;
  decision: 'approve' | 'deny';
  comment?: string | null;
  now?: Date;
}

export interface DecideResult {
  review: ReviewDetails;
  /** `pending` while more approvals are needed. */
  outcome: 'pending' | 'approved' | 'denied';
}

/**
 * Records one person's decision. Refused (ReviewError) unless the review is pending and
 * unexpired, the decider is eligible (decisionRefusal) and has not decided it yet. One deny
 * decides at once; approvals decide when `requiredApprovals` are in. Approving an access request
 * creates its grant (from now, for the requested duration) in the same transaction.
 *
 * Concurrency: the review row is locked (SELECT ... FOR UPDATE) for the whole transaction, so
 * deciders of one review go one at a time and each sees every earlier decision; two approvers at
 * once give exactly one `approved` outcome, and a decision racing an expiry or cancellation loses
 * cleanly (409).
 */
export async function decideReview(prisma: PrismaClient, input: DecideInput): Promise<DecideResult> {
  const { reviewId, outcome } = await recordDecision(prisma, input);
  return { review: await readDecided(prisma, reviewId), outcome };
}

/** The review as decideReview returns it, read after the decision committed. */
export function readDecided(prisma: PrismaClient, reviewId: string): Promise<ReviewDetails> {
  return prisma.review.findUniqueOrThrow({ where: { id: reviewId }, include: reviewInclude });
}

/** The review row as recordDecision reads it once it holds the row's lock. */
interface LockedReview {
  id: string;
  kind: 'statement' | 'access';
  status: string;
  expiresAt: Date;
  requesterId: string;
  connectionId: string;
  approverGroups: string[];
  allowSameGroup: boolean;
  requiredApprovals: number;
  accessSeconds: number | null;
  decisions: { identityId: string; decision: string }[];
  requesterGroups: string[];
}

/**
 * decideReview's transaction alone: the outcome is known at commit, so a caller that must tell the
 * holding gateway (ReviewService) can publish before reading the review back for its answer.
 */
export async function recordDecision(
  prisma: PrismaClient,
  input: DecideInput,
): Promise<{ reviewId: string; outcome: DecideResult['outcome'] }> {
  if (!UUID.test(input.reviewId)) throw notFound(input.reviewId);
  const now = input.now ?? new Date();
  const { decider } = input;
  return prisma.$transaction(async (tx) => {
    // Lock first, then read in a statement of its own: a read in the locking statement would see the
    // decisions as of before it waited for the lock (READ COMMITTED takes the snapshot at its start),
    // and two concurrent approvals could each miss the other's.
    const locked = await tx.$queryRaw<{ id: string }[]>`
      SELECT id::text AS id FROM "Review" WHERE id = ${input.reviewId}::uuid FOR UPDATE`;
    if (!locked.length) throw notFound(input.reviewId);
    const [review] = await tx.$queryRaw<LockedReview[]>`
      SELECT r.id::text AS id, r.kind::text AS kind, r.status::text AS status, r."expiresAt",
             r."requesterId"::text AS "requesterId", r."connectionId"::text AS "connectionId",
             r."approverGroups", r."allowSameGroup", r."requiredApprovals", r."accessSeconds",
             coalesce((SELECT json_agg(json_build_object('identityId', d."identityId"::text, 'decision', d.decision))
                       FROM "ReviewDecision" d WHERE d."reviewId" = r.id), '[]') AS decisions,
             coalesce((SELECT array_agg(g.name) FROM "GroupMembership" m JOIN "Group" g ON g.id = m."groupId"
                       WHERE m."identityId" = r."requesterId"), '{}') AS "requesterGroups"
      FROM "Review" r WHERE r.id = ${input.reviewId}::uuid`;
    if (!review) throw notFound(input.reviewId);
    if (review.status !== 'pending') throw new ReviewError('not_pending', `the review is already ${review.status}`);
    if (review.expiresAt <= now) throw new ReviewError('expired', 'the review has expired');
    const refusal = decisionRefusal(review, decider, review.requesterGroups);
    if (refusal) throw refusal;
    if (review.decisions.some((d) => d.identityId === decider.identityId)) {
      throw new ReviewError('already_decided', 'you have already decided this review');
    }
    const approvals =
      review.decisions.filter((d) => d.decision === 'approve').length + (input.decision === 'approve' ? 1 : 0);
    const outcome =
      input.decision === 'deny' ? 'denied' : approvals >= review.requiredApprovals ? 'approved' : 'pending';
    // The decision and, when it settles the review, the new status: one statement.
    const comment = input.comment?.trim() || null;
    await tx.$executeRaw`
      WITH decided AS (
        INSERT INTO "ReviewDecision" (id, "reviewId", "identityId", decision, comment, "createdAt")
        VALUES (gen_random_uuid(), ${review.id}::uuid, ${decider.identityId}::uuid, ${input.decision}, ${comment},
                ${now}::timestamp(3))
        RETURNING "reviewId")
      UPDATE "Review" SET status = ${outcome}::"ReviewStatus", "decidedAt" = ${now}::timestamp(3)
      WHERE id = (SELECT "reviewId" FROM decided) AND ${outcome} <> 'pending'`;
    if (outcome !== 'pending') {
      if (outcome === 'approved' && review.kind === 'access') {
        await tx.accessGrant.create({
          data: {
            identityId: review.requesterId,
            connectionId: review.connectionId,
            reviewId: review.id,
            startsAt: now,
            endsAt: new Date(now.getTime() + (review.accessSeconds ?? 0) * 1000),
          },
        });
      }
    }
    return { reviewId: review.id, outcome };
  });
}

/** Pending → `status`, audited with the reason; null when the review was not pending any more. */
async function finish(
  prisma: PrismaClient,
  reviewId: string,
  status: 'expired' | 'cancelled',
  context: ChangeContext,
): Promise<Review | null> {
  if (!UUID.test(reviewId)) return null;
  const now = context.now ?? new Date();
  return prisma.$transaction(async (tx) => {
    const [review] = await tx.review.updateManyAndReturn({
      where: { id: reviewId, status: 'pending' },
      data: { status, decidedAt: now },
    });
    if (!review) return null;
    await tx.auditEntry.create({ data: auditEntry(review, status, context) });
    return review;
  });
}

function auditEntry(review: Review, status: 'expired' | 'cancelled', context: ChangeContext) {
  return {
    actorName: context.actor ?? 'warden',
    action: status === 'expired' ? 'review.expire' : 'review.cancel',
    targetType: 'review',
    targetId: review.id,
    details: { reason: context.reason, kind: review.kind, rule: review.ruleName },
  };
}

/** The statement's wait timed out (the holding gateway's timer, or the sweeper). */
export function expireReview(prisma: PrismaClient, reviewId: string, context: ChangeContext): Promise<Review | null> {
  return finish(prisma, reviewId, 'expired', context);
}

/** Nobody waits any more: the client went away, or the gateway holding it shut down. */
export function cancelReview(prisma: PrismaClient, reviewId: string, context: ChangeContext): Promise<Review | null> {
  return finish(prisma, reviewId, 'cancelled', context);
}

export interface PendingFilter {
  /** Reviews held by these sessions (a gateway shutting down passes its live sessions). */
  sessionIds?: readonly string[];
  /** Reviews requested by this identity (it was blocked). */
  requesterId?: string;
  kind?: ReviewKind;
}

/** Cancels every pending review matching the filter (any of its criteria); returns them. */
export async function cancelPendingReviews(
  prisma: PrismaClient,
  filter: PendingFilter,
  context: ChangeContext,
): Promise<Review[]> {
  const or: Prisma.ReviewWhereInput[] = [];
  if (filter.sessionIds?.length) or.push({ sessionId: { in: [...filter.sessionIds] } });
  if (filter.requesterId) or.push({ requesterId: filter.requesterId });
  if (!or.length) return [];
  return finishMany(
    prisma,
    { status: 'pending', OR: or, ...(filter.kind ? { kind: filter.kind } : {}) },
    'cancelled',
    context,
  );
}

async function finishMany(
  prisma: PrismaClient,
  where: Prisma.ReviewWhereInput,
  status: 'expired' | 'cancelled',
  context: ChangeContext,
): Promise<Review[]> {
  const now = context.now ?? new Date();
  return prisma.$transaction(async (tx) => {
    const reviews = await tx.review.updateManyAndReturn({ where, data: { status, decidedAt: now } });
    if (reviews.length) await tx.auditEntry.createMany({ data: reviews.map((r) => auditEntry(r, status, context)) });
    return reviews;
  });
}

/**
 * What nobody else will clean up: pending reviews past their expiry (their gateway died before
 * its timer fired) and statement reviews whose session has ended. Run periodically by the API.
 */
export async function sweepReviews(
  prisma: PrismaClient,
  context: Omit<ChangeContext, 'reason'> = {},
): Promise<{ expired: Review[]; cancelled: Review[] }> {
  const now = context.now ?? new Date();
  const expired = await finishMany(prisma, { status: 'pending', expiresAt: { lte: now } }, 'expired', {
    ...context,
    now,
    reason: 'nobody decided before the review expired',
  });
  const cancelled = await finishMany(
    prisma,
    { status: 'pending', kind: 'statement', session: { status: { not: 'active' } } },
    'cancelled',
    { ...context, now, reason: 'the session holding the statement ended' },
  );
  return { expired, cancelled };
}

/** The review with its requester, connection, decisions and grant; null when unknown. */
export async function loadReview(prisma: PrismaClient, reviewId: string): Promise<ReviewDetails | null> {
  if (!UUID.test(reviewId)) return null;
  return prisma.review.findUnique({ where: { id: reviewId }, include: reviewInclude });
}
