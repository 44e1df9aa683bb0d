import type { Prisma } from '@warden/db';
import { canUseConnection } from '@warden/access';
import { accessRequirement } from '@warden/policy';
import { Type } from 'typebox';
import { ApiError, conflict, notFound } from '../../errors.js';
import { byIdOrName, isUuid } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors, IdParams } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { reviewCall } from './review-call.js';
import { listReviews, presentGrant, presentReview, reviewWithGroups } from './present.js';
import { connectionReviewRules } from './rules.js';
import { AccessRequestBody, AccessRequestQuery, Grant, Review } from './schemas.js';

/**
 * Time-boxed access: an identity asks for a window on a connection; approving the request (the
 * same /api/reviews/:id/approve) creates the grant. Whether a connection needs a grant is its
 * `options.access.requireGrant`; who approves is its access_review rule.
 */
export async function accessRoutes(app: ApiInstance) {
  const { prisma, audit, reviews, config } = app.services;
  const tags = ['reviews'];

  app.post(
    '/access-requests',
    {
      schema: {
        tags,
        summary: 'Ask for time-boxed access to a connection (a pending access review)',
        body: AccessRequestBody,
        response: { 201: Review, ...errors(400, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const { principal } = req;
      const body = req.body;
      const connection = await prisma.connection.findFirst({
        where: byIdOrName(body.connection),
        select: { id: true, name: true, allowedGroups: true },
      });
      if (!connection) throw notFound('connection', body.connection);
      // A grant narrows who may connect to a time window; it does not widen allowedGroups.
      if (!canUseConnection(principal, connection)) {
        throw new ApiError(403, `you may not use connection "${connection.name}" (not in its allowed groups)`);
      }
      const requirement = accessRequirement(await connectionReviewRules(prisma, connection.id));
      if (!requirement) {
        throw conflict(
          `connection "${connection.name}" has no access_review rule, so nobody could approve the request; ` +
            'an admin must attach a review policy with one',
        );
      }
      const created = await reviewCall(() =>
        reviews.requestAccess({
          requester: principal,
          connectionId: connection.id,
          durationSeconds: body.durationSeconds,
          justification: body.justification ?? null,
          requirement,
        }),
      );
      await audit.record(
        req,
        'access.request',
        { type: 'review', id: created.id, name: requirement.rule },
        { connection: connection.name, durationSeconds: body.durationSeconds, justification: body.justification },
      );
      const review = await prisma.review.findUniqueOrThrow({ where: { id: created.id }, include: reviewWithGroups });
      return reply.code(201).send(presentReview(review, principal, config.publicUrl));
    },
  );

  app.get(
    '/access-requests',
    {
      schema: {
        tags,
        summary: "Access requests: the caller's own (admins and auditors: everyone's unless mine=true)",
        querystring: AccessRequestQuery,
        response: { 200: Type.Array(Review), ...errors(400) },
      },
    },
    async (req) => {
      const { principal } = req;
      const { status, mine, limit = 100, offset = 0 } = req.query;
      const where: Prisma.ReviewWhereInput = { kind: 'access', status };
      if (mine || (principal.role !== 'admin' && principal.role !== 'auditor'))
        where.requesterId = principal.identityId;
      return listReviews(prisma, where, { limit, offset }, principal, config.publicUrl);
    },
  );

  app.post(
    '/access-grants/:id/revoke',
    {
      preValidation: requireRole('admin'),
      schema: {
        tags,
        summary: 'End an access window now: sessions it let in are closed',
        params: IdParams,
        response: { 200: Grant, ...errors(403, 404) },
      },
    },
    async (req) => {
      const { id } = req.params;
      const result = isUuid(id) ? await reviews.revokeGrant(id) : null;
      if (!result) throw notFound('access grant', id);
      const grant = await prisma.accessGrant.findUniqueOrThrow({
        where: { id: result.grant.id },
        include: { identity: { select: { id: true, name: true } }, connection: { select: { id: true, name: true } } },
      });
      // Idempotent: revoking twice keeps the first revocation time and audits once.
      if (result.revoked) {
        await audit.record(
          req,
          'access.revoke',
          { type: 'access_grant', id: grant.id },
          { identity: grant.identity.name, connection: grant.connection.name, endsAt: grant.endsAt },
        );
      }
      return presentGrant(grant, grant.identity, grant.connection);
    },
  );
}
