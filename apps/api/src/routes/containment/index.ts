import type { FastifyRequest } from 'fastify';
import type { TopicMessages } from '@warden/control-bus';
import type { Identity } from '@warden/db';
import { conflict, notFound } from '../../errors.js';
import { byIdOrName, isUuid } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { assertAnotherActiveAdmin } from '../users/index.js';
import { BlockBody, ContainedIdentity, IdentityParams, KillBody, KillRequested, SessionParams } from './schemas.js';

function present(identity: Identity, cancelledReviews = 0) {
  return {
    id: identity.id,
    name: identity.name,
    kind: identity.kind,
    role: identity.role,
    status: identity.status,
    blockedReason: identity.blockedReason,
    cancelledReviews,
    updatedAt: identity.updatedAt.toISOString(),
  };
}

/**
 * Containment during an incident. Both decisions are durable first: written to the database and
 * audited, then announced on the control bus. Blocking an identity sets its status (its tokens
 * stop working at once: authentication reads the status on every request and connect); killing a
 * session marks its row (killRequestedAt). The bus message makes the replica holding a session end
 * it within milliseconds; without the bus (Redis down or not answering: publishing fails at once or
 * within the bus's 1 s timeout) every gateway still finds the decision at its next database check
 * (WARDEN_CONTAINMENT_RECONCILE_MS, default 2 s), so the call succeeds either way.
 * Registered under /api without a sub-prefix.
 */
export async function containmentRoutes(app: ApiInstance) {
  const { prisma, audit, bus, reviews } = app.services;
  const admin = { preValidation: requireRole('admin') };
  const tags = ['containment'];

  /** Announces a decision already stored; a bus that is down only delays it to the gateways' next check. */
  async function announce<T extends 'session.kill' | 'identity.blocked'>(
    req: FastifyRequest,
    topic: T,
    message: TopicMessages[T],
  ): Promise<void> {
    try {
      await bus.publish(topic, message);
    } catch (err) {
      req.log.warn(
        { err, topic },
        'control bus unavailable: the decision is stored, gateways apply it at their next database check',
      );
    }
  }

  async function findIdentity(ref: string) {
    const identity = await prisma.identity.findFirst({ where: byIdOrName(ref) });
    if (!identity) throw notFound('identity', ref);
    return identity;
  }

  app.post(
    '/identities/:ref/block',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Block an identity: its tokens stop working and its live sessions end on every replica',
        description:
          'Stored and audited, then announced to the gateways: live sessions end within milliseconds through ' +
          "the control bus, or at each gateway's next database check (WARDEN_CONTAINMENT_RECONCILE_MS, default " +
          '2 s) when the bus is down. New logins are refused at once either way.',
        params: IdentityParams,
        body: BlockBody,
        response: { 200: ContainedIdentity, ...errors(400, 403, 404, 409) },
      },
    },
    async (req) => {
      const { reason } = req.body;
      const target = await findIdentity(req.params.ref);
      if (target.id === req.principal.identityId) throw conflict('you cannot block yourself');
      const identity = await prisma.$transaction(async (tx) => {
        await assertAnotherActiveAdmin(tx, target.id, 'block');
        return tx.identity.update({ where: { id: target.id }, data: { status: 'blocked', blockedReason: reason } });
      });
      // Nobody waits for them any more (their sessions end) and nobody should approve them.
      const cancelled = await reviews.cancelPending({ requesterId: identity.id }, 'the requester was blocked');
      const by = { id: req.principal.identityId, name: req.principal.name };
      await audit.events.emit(
        'identity.blocked',
        { identity: { id: identity.id, name: identity.name } },
        { reason, by, cancelledReviews: cancelled.length },
      );
      await audit.record(
        req,
        'identity.block',
        { type: 'identity', id: identity.id, name: identity.name },
        { reason, previousStatus: target.status, cancelledReviews: cancelled.map((r) => r.id) },
      );
      // Stored and audited: now the fast path. Published on every call, also for an identity
      // already blocked: a replica that missed the first message gets another chance, and ending
      // ended sessions is harmless.
      await announce(req, 'identity.blocked', { identityId: identity.id, reason });
      return present(identity, cancelled.length);
    },
  );

  app.post(
    '/identities/:ref/unblock',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Unblock an identity (its tokens work again; ended sessions stay ended)',
        params: IdentityParams,
        response: { 200: ContainedIdentity, ...errors(403, 404, 409) },
      },
    },
    async (req) => {
      const target = await findIdentity(req.params.ref);
      if (target.status === 'active') return present(target);
      if (target.status !== 'blocked') {
        throw conflict(`identity "${target.name}" is ${target.status}, not blocked; change its status instead`);
      }
      const { count } = await prisma.identity.updateMany({
        where: { id: target.id, status: 'blocked' },
        data: { status: 'active', blockedReason: null },
      });
      const identity = await prisma.identity.findUniqueOrThrow({ where: { id: target.id } });
      if (count) {
        await audit.events.emit(
          'identity.unblocked',
          { identity: { id: identity.id, name: identity.name } },
          { by: { id: req.principal.identityId, name: req.principal.name } },
        );
        await audit.record(
          req,
          'identity.unblock',
          { type: 'identity', id: identity.id, name: identity.name },
          { blockedReason: target.blockedReason },
        );
      }
      return present(identity);
    },
  );

  app.post(
    '/sessions/:id/kill',
    {
      ...admin,
      schema: {
        tags,
        summary: 'End one live session (the client gets 57P01 with the reason)',
        description:
          'Recorded on the session and audited, then announced to the gateways. The gateway holding the ' +
          'session ends it within milliseconds through the control bus, or at its next database check ' +
          '(WARDEN_CONTAINMENT_RECONCILE_MS, default 2 s) when the bus is down.',
        params: SessionParams,
        body: KillBody,
        response: { 202: KillRequested, ...errors(400, 403, 404, 409) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const session = isUuid(id)
        ? await prisma.session.findUnique({
            where: { id },
            select: {
              id: true,
              status: true,
              identity: { select: { name: true } },
              connection: { select: { name: true } },
            },
          })
        : null;
      if (!session) throw notFound('session', id);
      if (session.status !== 'active') throw conflict(`session "${id}" has already ended (${session.status})`);
      const reason = req.body?.reason ?? 'ended by an administrator';
      // Durable first: the gateway holding the session finds the kill here even if no message
      // reaches it. Only while the session is still active, so an ended session is never marked.
      const { count } = await prisma.session.updateMany({
        where: { id: session.id, status: 'active' },
        data: { killRequestedAt: new Date(), killReason: reason, killedBy: req.principal.name },
      });
      if (!count) {
        const now = await prisma.session.findUnique({ where: { id: session.id }, select: { status: true } });
        throw conflict(`session "${id}" has already ended (${now?.status ?? 'deleted'})`);
      }
      await audit.record(
        req,
        'session.kill',
        { type: 'session', id: session.id },
        { reason, identity: session.identity.name, connection: session.connection.name },
      );
      await announce(req, 'session.kill', {
        sessionId: session.id,
        reason,
        by: { id: req.principal.identityId, name: req.principal.name },
      });
      return reply.code(202).send({ id: session.id, status: session.status, reason });
    },
  );
}
