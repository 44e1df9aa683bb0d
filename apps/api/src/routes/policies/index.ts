import { Type } from 'typebox';
import type { Prisma, PrismaClient } from '@warden/db';
import { notFound } from '../../errors.js';
import { byIdOrName, resolveRefs } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors, RefParams } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { checkRules, hideReviewSecrets, sealReviewSecrets } from './rules.js';
import { Policy, PolicyBody, PolicyPatch } from './schemas.js';

const withConnections = { connections: { select: { id: true, name: true } } } as const;
type PolicyRow = Prisma.PolicyGetPayload<{ include: typeof withConnections }>;

function present(policy: PolicyRow) {
  return {
    id: policy.id,
    name: policy.name,
    kind: policy.kind,
    description: policy.description,
    enabled: policy.enabled,
    rules: hideReviewSecrets(policy.rules),
    version: policy.version,
    connections: policy.connections,
    createdAt: policy.createdAt.toISOString(),
    updatedAt: policy.updatedAt.toISOString(),
  };
}

/** Policy references (ids or names) → rows; unknown ones are a 400 on the field. */
export function resolvePolicies(prisma: PrismaClient, refs: string[], field: string) {
  return resolveRefs(refs, 'policy', field, (where) =>
    prisma.policy.findFirst({ where, select: { id: true, name: true } }),
  );
}

/** Connection references (ids or names) → ids; unknown ones are a 400 on the field. */
export function resolveConnections(prisma: PrismaClient, refs: string[], field: string) {
  return resolveRefs(refs, 'connection', field, (where) =>
    prisma.connection.findFirst({ where, select: { id: true } }),
  );
}

/**
 * Guardrail, masking and review policies. A policy applies to the connections it is
 * attached to; every change bumps its version, which keys the gateway's decision
 * cache, so a changed rule takes effect for new sessions at once and, announced on the bus, for
 * live ones from their next statement.
 */
export async function policyRoutes(app: ApiInstance) {
  const { prisma, audit, bus, secretBox } = app.services;
  const admin = { preValidation: requireRole('admin') };
  const tags = ['policies'];

  /**
   * Live sessions keep the policy they started with until told: gateways recompile for these
   * connections. A failed publish is logged, not an error: the change is committed and new
   * sessions load it from the database anyway.
   */
  async function announce(connectionIds: string[]) {
    if (!connectionIds.length) return;
    await bus.publish('policy.changed', { connectionIds }).catch((err: unknown) => {
      app.log.warn({ err }, 'could not announce a policy change to the gateways');
    });
  }

  async function find(ref: string) {
    const policy = await prisma.policy.findFirst({ where: byIdOrName(ref), include: withConnections });
    if (!policy) throw notFound('policy', ref);
    return policy;
  }

  app.get('/', { schema: { tags, summary: 'List policies', response: { 200: Type.Array(Policy) } } }, async () => {
    const policies = await prisma.policy.findMany({ include: withConnections, orderBy: { name: 'asc' } });
    return policies.map(present);
  });

  app.get(
    '/:ref',
    { schema: { tags, summary: 'Get a policy', params: RefParams, response: { 200: Policy, ...errors(404) } } },
    async (req) => present(await find(req.params.ref)),
  );

  app.post(
    '/',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Create a policy',
        body: PolicyBody,
        response: { 201: Policy, ...errors(400, 403, 409) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const rules = sealReviewSecrets(checkRules(body.kind, body.rules), null, secretBox);
      const connections = body.connections
        ? await resolveConnections(prisma, body.connections, 'body.connections')
        : [];
      const policy = await prisma.policy.create({
        data: {
          name: body.name,
          kind: body.kind,
          description: body.description ?? null,
          enabled: body.enabled ?? true,
          rules: rules as Prisma.InputJsonObject,
          connections: { connect: connections },
        },
        include: withConnections,
      });
      await audit.record(req, 'policy.create', { type: 'policy', id: policy.id, name: policy.name }, body);
      await announce(policy.connections.map((c) => c.id));
      return reply.code(201).send(present(policy));
    },
  );

  app.patch(
    '/:ref',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Update a policy (rules are replaced; connections, when given, replace the attachment list)',
        params: RefParams,
        body: PolicyPatch,
        response: { 200: Policy, ...errors(400, 403, 404, 409) },
      },
    },
    async (req) => {
      const body = req.body;
      const current = await find(req.params.ref);
      const data: Prisma.PolicyUpdateInput = { version: { increment: 1 } };
      if (body.name !== undefined) data.name = body.name;
      if (body.description !== undefined) data.description = body.description;
      if (body.enabled !== undefined) data.enabled = body.enabled;
      if (body.rules !== undefined) {
        const rules = sealReviewSecrets(checkRules(current.kind, body.rules), current.rules, secretBox);
        data.rules = rules as Prisma.InputJsonObject;
      }
      if (body.connections !== undefined) {
        data.connections = { set: await resolveConnections(prisma, body.connections, 'body.connections') };
      }
      const policy = await prisma.policy.update({ where: { id: current.id }, data, include: withConnections });
      await audit.record(req, 'policy.update', { type: 'policy', id: policy.id, name: policy.name }, body);
      await announce([...new Set([...current.connections, ...policy.connections].map((c) => c.id))]);
      return present(policy);
    },
  );

  app.delete(
    '/:ref',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Delete a policy',
        params: RefParams,
        response: { 204: Type.Null(), ...errors(403, 404) },
      },
    },
    async (req, reply) => {
      const policy = await find(req.params.ref);
      await prisma.policy.delete({ where: { id: policy.id } });
      await announce(policy.connections.map((c) => c.id));
      await audit.record(
        req,
        'policy.delete',
        { type: 'policy', id: policy.id, name: policy.name },
        {
          connections: policy.connections.map((c) => c.name),
        },
      );
      return reply.code(204).send(null);
    },
  );
}
