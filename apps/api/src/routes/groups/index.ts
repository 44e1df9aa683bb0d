import { Type } from 'typebox';
import type { Prisma } from '@warden/db';
import { notFound } from '../../errors.js';
import { byIdOrName } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors, RefParams } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { Group, GroupBody, GroupPatch, MemberParams } from './schemas.js';

const withMembers = { members: { include: { identity: { select: { id: true, name: true } } } } } as const;
type GroupRow = Prisma.GroupGetPayload<{ include: typeof withMembers }>;

function present(group: GroupRow) {
  return {
    id: group.id,
    name: group.name,
    description: group.description,
    members: group.members.map((m) => ({ id: m.identity.id, name: m.identity.name, source: m.source })),
    createdAt: group.createdAt.toISOString(),
    updatedAt: group.updatedAt.toISOString(),
  };
}

/** Groups decide who may use which connection (and later, who may approve). */
export async function groupRoutes(app: ApiInstance) {
  const { prisma, audit } = app.services;
  const admin = { preHandler: requireRole('admin') };
  const tags = ['groups'];

  async function find(ref: string) {
    const group = await prisma.group.findFirst({ where: byIdOrName(ref), include: withMembers });
    if (!group) throw notFound('group', ref);
    return group;
  }

  app.get('/', { schema: { tags, response: { 200: Type.Array(Group) } } }, async () => {
    const groups = await prisma.group.findMany({ include: withMembers, orderBy: { name: 'asc' } });
    return groups.map(present);
  });

  app.get('/:ref', { schema: { tags, params: RefParams, response: { 200: Group, ...errors(404) } } }, async (req) =>
    present(await find(req.params.ref)),
  );

  app.post(
    '/',
    { ...admin, schema: { tags, body: GroupBody, response: { 201: Group, ...errors(400, 403, 409) } } },
    async (req, reply) => {
      const group = await prisma.group.create({ data: req.body, include: withMembers });
      await audit.record(req, 'group.create', { type: 'group', id: group.id, name: group.name }, req.body);
      return reply.code(201).send(present(group));
    },
  );

  app.patch(
    '/:ref',
    {
      ...admin,
      schema: { tags, params: RefParams, body: GroupPatch, response: { 200: Group, ...errors(400, 403, 404, 409) } },
    },
    async (req) => {
      const { id } = await find(req.params.ref);
      const group = await prisma.group.update({ where: { id }, data: req.body, include: withMembers });
      await audit.record(req, 'group.update', { type: 'group', id, name: group.name }, req.body);
      return present(group);
    },
  );

  app.delete(
    '/:ref',
    { ...admin, schema: { tags, params: RefParams, response: { 204: Type.Null(), ...errors(403, 404) } } },
    async (req, reply) => {
      const group = await find(req.params.ref);
      await prisma.group.delete({ where: { id: group.id } });
      await audit.record(req, 'group.delete', { type: 'group', id: group.id, name: group.name });
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/:ref/members/:identity',
    { ...admin, schema: { tags, params: MemberParams, response: { 200: Group, ...errors(403, 404) } } },
    async (req) => {
      const group = await find(req.params.ref);
      const identity = await prisma.identity.findFirst({ where: byIdOrName(req.params.identity) });
      if (!identity) throw notFound('user', req.params.identity);
      await prisma.groupMembership.upsert({
        where: { identityId_groupId: { identityId: identity.id, groupId: group.id } },
        create: { identityId: identity.id, groupId: group.id },
        update: {},
      });
      await audit.record(
        req,
        'group.member.add',
        { type: 'group', id: group.id, name: group.name },
        { identity: identity.name },
      );
      return present(await find(group.id));
    },
  );

  app.delete(
    '/:ref/members/:identity',
    { ...admin, schema: { tags, params: MemberParams, response: { 200: Group, ...errors(403, 404) } } },
    async (req) => {
      const group = await find(req.params.ref);
      const identity = await prisma.identity.findFirst({ where: byIdOrName(req.params.identity) });
      if (!identity) throw notFound('user', req.params.identity);
      const { count } = await prisma.groupMembership.deleteMany({
        where: { identityId: identity.id, groupId: group.id },
      });
      if (!count) throw notFound('membership of', `${identity.name} in ${group.name}`);
      await audit.record(
        req,
        'group.member.remove',
        { type: 'group', id: group.id, name: group.name },
        { identity: identity.name },
      );
      return present(await find(group.id));
    },
  );
}
