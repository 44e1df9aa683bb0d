import { Type } from 'typebox';
import type { Prisma } from '@warden/db';
import { badRequest, conflict, notFound } from '../../errors.js';
import { byIdOrName } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors, RefParams } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { User, UserBody, UserPatch, UserQuery } from './schemas.js';

const withGroups = {
  memberships: { include: { group: { select: { id: true, name: true } } }, orderBy: { group: { name: 'asc' } } },
} as const;
type IdentityRow = Prisma.IdentityGetPayload<{ include: typeof withGroups }>;

function present(identity: IdentityRow) {
  return {
    id: identity.id,
    name: identity.name,
    kind: identity.kind,
    role: identity.role,
    status: identity.status,
    email: identity.email,
    displayName: identity.displayName,
    blockedReason: identity.blockedReason,
    groups: identity.memberships.map((m) => ({ id: m.group.id, name: m.group.name, source: m.source })),
    createdAt: identity.createdAt.toISOString(),
    updatedAt: identity.updatedAt.toISOString(),
  };
}

/** `/api/users/me` is the caller, so no identity may be called "me". */
const RESERVED_NAMES = new Set(['me']);

/**
 * Takes row locks on every active admin, so concurrent demotions, disables and
 * deletes see each other and at least one active admin always remains.
 */
export async function assertAnotherActiveAdmin(tx: Prisma.TransactionClient, identityId: string, verb: string) {
  const admins = await tx.$queryRaw<{ id: string }[]>`
    SELECT id::text AS id FROM "Identity" WHERE role = 'admin' AND status = 'active' FOR UPDATE`;
  const isActiveAdmin = admins.some((a) => a.id === identityId);
  if (isActiveAdmin && admins.length < 2) {
    throw conflict(`cannot ${verb} the last active admin; make another identity admin first`);
  }
}

/** Identities: people and service accounts (AI agents, CI jobs), their roles and groups. */
export async function userRoutes(app: ApiInstance) {
  const { prisma, audit, bus } = app.services;
  // Roles are checked before the body is validated: a caller without the role gets 403, never 400.
  const admin = { preValidation: requireRole('admin') };
  const reader = { preValidation: requireRole('admin', 'auditor') };
  const tags = ['users'];

  async function find(ref: string) {
    const identity = await prisma.identity.findFirst({ where: byIdOrName(ref), include: withGroups });
    if (!identity) throw notFound('user', ref);
    return identity;
  }

  /** Group names → ids; unknown names are a 400 on body.groups. */
  async function resolveGroups(names: string[]) {
    const unique = [...new Set(names)];
    const groups = await prisma.group.findMany({ where: { name: { in: unique } }, select: { id: true, name: true } });
    const missing = unique.filter((n) => !groups.some((g) => g.name === n));
    if (missing.length) {
      throw badRequest('unknown groups', [{ field: 'body.groups', message: `no such group: ${missing.join(', ')}` }]);
    }
    return groups;
  }

  app.get(
    '/',
    {
      ...reader,
      schema: {
        tags,
        summary: 'List identities',
        querystring: UserQuery,
        response: { 200: Type.Array(User), ...errors(400, 403) },
      },
    },
    async (req) => {
      const { kind, role, status } = req.query;
      const identities = await prisma.identity.findMany({
        where: { kind, role, status },
        include: withGroups,
        orderBy: { name: 'asc' },
      });
      return identities.map(present);
    },
  );

  app.get('/me', { schema: { tags, summary: 'The calling identity', response: { 200: User } } }, async (req) =>
    present(await find(req.principal.identityId)),
  );

  app.get(
    '/:ref',
    {
      ...reader,
      schema: {
        tags,
        summary: 'Get an identity by id or name',
        params: RefParams,
        response: { 200: User, ...errors(403, 404) },
      },
    },
    async (req) => present(await find(req.params.ref)),
  );

  app.post(
    '/',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Create an identity',
        body: UserBody,
        response: { 201: User, ...errors(400, 403, 409) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      if (RESERVED_NAMES.has(body.name.toLowerCase())) {
        throw badRequest('reserved name', [{ field: 'body.name', message: `"${body.name}" is reserved` }]);
      }
      const groups = await resolveGroups(body.groups ?? []);
      const identity = await prisma.identity.create({
        data: {
          name: body.name,
          kind: body.kind ?? 'user',
          role: body.role ?? 'user',
          email: body.email ?? null,
          displayName: body.displayName ?? null,
          memberships: { create: groups.map((g) => ({ groupId: g.id })) },
        },
        include: withGroups,
      });
      await audit.record(
        req,
        'identity.create',
        { type: 'identity', id: identity.id, name: identity.name },
        {
          kind: identity.kind,
          role: identity.role,
          email: body.email,
          displayName: body.displayName,
          groups: groups.map((g) => g.name).sort(),
        },
      );
      return reply.code(201).send(present(identity));
    },
  );

  app.patch(
    '/:ref',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Update an identity (groups replaces its manual memberships)',
        params: RefParams,
        body: UserPatch,
        response: { 200: User, ...errors(400, 403, 404, 409) },
      },
    },
    async (req) => {
      const body = req.body;
      const { id } = await find(req.params.ref);
      const groups = body.groups ? await resolveGroups(body.groups) : undefined;
      const identity = await prisma.$transaction(async (tx) => {
        const demotes = (body.role !== undefined && body.role !== 'admin') || body.status === 'disabled';
        if (demotes) await assertAnotherActiveAdmin(tx, id, body.role !== undefined ? 'demote' : 'disable');
        const data: Prisma.IdentityUpdateInput = {};
        if (body.role !== undefined) data.role = body.role;
        if (body.status !== undefined) data.status = body.status;
        if (body.status === 'active') data.blockedReason = null;
        if (body.email !== undefined) data.email = body.email;
        if (body.displayName !== undefined) data.displayName = body.displayName;
        await tx.identity.update({ where: { id }, data });
        if (groups) {
          // OIDC memberships follow the identity provider; only manual ones are replaced.
          await tx.groupMembership.deleteMany({ where: { identityId: id, source: 'manual' } });
          await tx.groupMembership.createMany({
            data: groups.map((g) => ({ identityId: id, groupId: g.id })),
            skipDuplicates: true,
          });
        }
        return tx.identity.findUniqueOrThrow({ where: { id }, include: withGroups });
      });
      await audit.record(
        req,
        'identity.update',
        { type: 'identity', id, name: identity.name },
        {
          ...body,
          groups: groups?.map((g) => g.name).sort(),
        },
      );
      if (body.status === 'disabled') {
        // Its keys and tokens already fail (authentication reads the status on every call); live
        // sessions end too, on every gateway replica, as for a block: at once over the bus, or at
        // the gateways' next database check (WARDEN_CONTAINMENT_RECONCILE_MS) while it is down.
        await bus
          .publish('identity.blocked', { identityId: id, reason: 'the identity was disabled' })
          .catch((err: unknown) =>
            req.log.warn({ err }, 'control bus unavailable: gateways end the sessions at their next database check'),
          );
      }
      return present(identity);
    },
  );

  app.delete(
    '/:ref',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Delete an identity without recorded activity (otherwise disable it)',
        params: RefParams,
        response: { 204: Type.Null(), ...errors(403, 404, 409) },
      },
    },
    async (req, reply) => {
      const { id, name } = await find(req.params.ref);
      await prisma.$transaction(async (tx) => {
        await assertAnotherActiveAdmin(tx, id, 'delete');
        const sessions = await tx.session.count({ where: { identityId: id } });
        const reviews = await tx.review.count({ where: { requesterId: id } });
        const decisions = await tx.reviewDecision.count({ where: { identityId: id } });
        if (sessions + reviews + decisions > 0) {
          throw conflict(
            `user "${name}" has recorded sessions or reviews that must stay attributable; ` +
              'disable it instead (PATCH {"status":"disabled"})',
          );
        }
        await tx.identity.delete({ where: { id } });
      });
      await audit.record(req, 'identity.delete', { type: 'identity', id, name });
      return reply.code(204).send(null);
    },
  );
}
