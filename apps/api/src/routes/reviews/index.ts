import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { Prisma } from '@warden/db';
import { ReviewError } from '@warden/reviews';
import { ApiError, notFound } from '../../errors.js';
import { isUuid } from '../../lookup.js';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { accessRoutes } from './access.js';
import { reviewCall } from './review-call.js';
import { reviewStreamRoutes } from './stream.js';
import { canDecide, canSee, listReviews, presentReview, reviewWithGroups, type ReviewRow } from './present.js';
import { Decided, DecisionBody, Review, ReviewParams, ReviewQuery } from './schemas.js';

/**
 * Reviews: the approver's inbox, one review with everything an approver must see (the statement
 * exactly as it would run, its parameters, who asked, where, why), and decisions. Access requests
 * and grants live in ./access.ts. Registered under /api without a sub-prefix.
 */
export async function reviewRoutes(app: ApiInstance) {
  const { prisma, audit, reviews, config } = app.services;
  const tags = ['reviews'];

  async function find(req: FastifyRequest, id: string): Promise<ReviewRow> {
    const review = isUuid(id) ? await prisma.review.findUnique({ where: { id }, include: reviewWithGroups }) : null;
    if (!review) throw notFound('review', id);
    if (!canSee(review, req.principal)) {
      throw new ApiError(403, 'only the requester, its approvers, auditors and admins may see this review');
    }
    return review;
  }

  app.get(
    '/reviews',
    {
      schema: {
        tags,
        summary:
          'The caller’s inbox: pending reviews they may decide (or ?mine=true, or ?all=true for admins/auditors)',
        querystring: ReviewQuery,
        response: { 200: Type.Array(Review), ...errors(400, 403) },
      },
    },
    async (req) => {
      const { principal } = req;
      const { mine, all, status, kind, limit = 100, offset = 0 } = req.query;
      const now = new Date();
      if (mine || all) {
        if (all && principal.role !== 'admin' && principal.role !== 'auditor') {
          throw new ApiError(403, 'all=true requires role admin or auditor');
        }
        const where: Prisma.ReviewWhereInput = { status, kind };
        if (mine) where.requesterId = principal.identityId;
        return listReviews(prisma, where, { limit, offset }, principal, config.publicUrl);
      }
      if (status !== undefined && status !== 'pending') {
        throw new ApiError(400, 'the inbox holds pending reviews; use mine=true or all=true for other statuses');
      }
      // Pending, unexpired reviews are few: filter the same-group rule in memory, then page.
      const candidates = await prisma.review.findMany({
        where: {
          status: 'pending',
          kind,
          expiresAt: { gt: now },
          approverGroups: { hasSome: principal.groups },
          requesterId: { not: principal.identityId },
          decisions: { none: { identityId: principal.identityId } },
        },
        include: reviewWithGroups,
        orderBy: { createdAt: 'asc' },
        take: 5000,
      });
      return candidates
        .filter((r) => canDecide(r, principal, now))
        .slice(offset, offset + limit)
        .map((r) => presentReview(r, principal, config.publicUrl));
    },
  );

  app.get(
    '/reviews/:id',
    {
      schema: {
        tags,
        summary: 'One review: the statement as it would run, parameters, requester, connection, decisions',
        params: ReviewParams,
        response: { 200: Review, ...errors(403, 404) },
      },
    },
    async (req) => presentReview(await find(req, req.params.id), req.principal, config.publicUrl),
  );

  for (const decision of ['approve', 'deny'] as const) {
    app.post(
      `/reviews/:id/${decision}`,
      {
        schema: {
          tags,
          summary:
            decision === 'approve'
              ? 'Approve (the review is approved once enough approvals are in; an access request then creates its grant)'
              : 'Deny (one deny decides)',
          params: ReviewParams,
          body: DecisionBody,
          response: { 200: Decided, ...errors(400, 403, 404, 409) },
        },
      },
      async (req) => {
        const comment = req.body?.comment;
        // The decision goes first: the gateway holding the statement hears of it before anything
        // else is read. A refusal is answered as a read would be when the caller may not even see
        // the review (so it learns nothing of its approvers).
        const result = await reviewCall(() =>
          reviews
            .decide({ reviewId: req.params.id, decider: req.principal, decision, comment: comment ?? null })
            .catch(async (err: unknown) => {
              if (err instanceof ReviewError && err.status === 403) await find(req, req.params.id);
              throw err;
            }),
        );
        const review = result.review;
        await audit.record(
          req,
          `review.${decision}`,
          { type: 'review', id: review.id, name: review.ruleName },
          {
            outcome: result.outcome,
            comment,
            kind: review.kind,
            requester: review.requester.name,
            connection: review.connection.name,
            statementHash: review.statementHash,
            grant: review.accessGrant?.id,
          },
        );
        const updated = await prisma.review.findUniqueOrThrow({ where: { id: review.id }, include: reviewWithGroups });
        return { outcome: result.outcome, review: presentReview(updated, req.principal, config.publicUrl) };
      },
    );
  }

  await app.register(accessRoutes);
  await app.register(reviewStreamRoutes);
}
