import { Type } from 'typebox';
import { canUseConnection, type Principal } from '@warden/access';
import { liveAgentIds, type Prisma } from '@warden/db';
import { badRequest, conflict, notFound } from '../../errors.js';
import { byIdOrName } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors, RefParams } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { ensureDefaultPolicies } from '../policies/default-policies.js';
import { resolvePolicies } from '../policies/index.js';
import { applyConfig, mergeObject, readObject, readSecrets, summarizeSecrets } from './config.js';
import { presentTargetRole, targetRoleWarnings } from './target-role.js';
import { Connection, ConnectionBody, ConnectionPatch, connectionTypes } from './schemas.js';

const withAgent = {
  agent: { select: { id: true, name: true } },
  policies: { select: { id: true, name: true, kind: true }, orderBy: { name: 'asc' } },
} as const;
type ConnectionRow = Prisma.ConnectionGetPayload<{ include: typeof withAgent }>;

/**
 * Credentials never leave through here: config without secret fields, secrets as sources only.
 * The agent's status is its live presence (`live`), as GET /api/agents reports it.
 */
function present(connection: ConnectionRow, live: Set<string>) {
  const config = readObject(connection.config);
  for (const field of connectionTypes[connection.type].secrets) delete config[field];
  const targetRole = presentTargetRole(connection.targetRole, connection.targetRoleAt);
  return {
    id: connection.id,
    name: connection.name,
    type: connection.type,
    description: connection.description,
    agent: { ...connection.agent, status: live.has(connection.agent.id) ? 'online' : 'offline' },
    config,
    secrets: summarizeSecrets(readSecrets(connection.secrets)),
    allowedGroups: connection.allowedGroups,
    options: readObject(connection.options),
    policies: connection.policies,
    targetRole,
    warnings: targetRoleWarnings(
      targetRole,
      connection.policies.some((p) => p.kind === 'masking'),
    ),
    createdAt: connection.createdAt.toISOString(),
    updatedAt: connection.updatedAt.toISOString(),
  };
}

/** Admins and auditors see every connection; others only those they may use. */
function canSee(principal: Principal, connection: { allowedGroups: readonly string[] }): boolean {
  return principal.role === 'admin' || principal.role === 'auditor' || canUseConnection(principal, connection);
}

/** Connections are the targets (Postgres, SSH, HTTP) an agent reaches on the gateway's behalf. */
export async function connectionRoutes(app: ApiInstance) {
  const { prisma, audit, secretBox, config } = app.services;
  const live = () => liveAgentIds(prisma, config.agentPresenceIntervalMs);
  // Roles are checked before the body is validated: a caller without the role gets 403, never 400.
  const admin = { preValidation: requireRole('admin') };
  const tags = ['connections'];

  async function find(ref: string, principal?: Principal) {
    const connection = await prisma.connection.findFirst({ where: byIdOrName(ref), include: withAgent });
    // A connection the caller may not use does not exist for them (no 403 that confirms the name).
    if (!connection || (principal && !canSee(principal, connection))) throw notFound('connection', ref);
    return connection;
  }

  async function resolveAgent(ref: string) {
    const agent = await prisma.agent.findFirst({ where: byIdOrName(ref) });
    if (!agent) throw badRequest('unknown agent', [{ field: 'body.agent', message: `agent "${ref}" not found` }]);
    if (agent.revokedAt) {
      throw badRequest('revoked agent', [{ field: 'body.agent', message: `agent "${agent.name}" is revoked` }]);
    }
    return agent;
  }

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List connections (those the caller may use)',
        response: { 200: Type.Array(Connection) },
      },
    },
    async (req) => {
      const { principal } = req;
      const where: Prisma.ConnectionWhereInput =
        principal.role === 'user' ? { allowedGroups: { hasSome: principal.groups } } : {};
      const [connections, online] = await Promise.all([
        prisma.connection.findMany({ where, include: withAgent, orderBy: { name: 'asc' } }),
        live(),
      ]);
      return connections.filter((c) => canSee(principal, c)).map((c) => present(c, online));
    },
  );

  app.get(
    '/:ref',
    {
      schema: {
        tags,
        summary: 'Get a connection by id or name',
        params: RefParams,
        response: { 200: Connection, ...errors(404) },
      },
    },
    async (req) => present(await find(req.params.ref, req.principal), await live()),
  );

  app.post(
    '/',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Create a connection',
        body: ConnectionBody,
        response: { 201: Connection, ...errors(400, 403, 409) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const applied = applyConfig(body.type, body.config, null, secretBox);
      const agent = await resolveAgent(body.agent);
      const allowedGroups = [...new Set(body.allowedGroups ?? [])];
      // New connections get the default rule pack unless the body says otherwise;
      // `policies: []` is the explicit, audited way to turn it off.
      const policies =
        body.policies === undefined
          ? await ensureDefaultPolicies(prisma)
          : await resolvePolicies(prisma, body.policies, 'body.policies');
      const connection = await prisma.connection.create({
        data: {
          name: body.name,
          type: body.type,
          description: body.description ?? null,
          agentId: agent.id,
          config: applied.config as Prisma.InputJsonObject,
          secrets: applied.secrets as unknown as Prisma.InputJsonObject,
          allowedGroups,
          options: (body.options ?? {}) as Prisma.InputJsonObject,
          policies: { connect: policies.map((p) => ({ id: p.id })) },
        },
        include: withAgent,
      });
      await audit.record(
        req,
        'connection.create',
        { type: 'connection', id: connection.id, name: connection.name },
        {
          type: body.type,
          agent: agent.name,
          description: body.description,
          config: applied.config,
          sensitiveFields: applied.changes,
          allowedGroups,
          options: body.options ?? {},
          policies: connection.policies.map((p) => p.name),
          defaultPolicies: body.policies === undefined,
        },
      );
      return reply.code(201).send(present(connection, await live()));
    },
  );

  app.patch(
    '/:ref',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Update a connection (config and options are merged; null removes a key)',
        params: RefParams,
        body: ConnectionPatch,
        response: { 200: Connection, ...errors(400, 403, 404, 409) },
      },
    },
    async (req) => {
      const body = req.body;
      const { id } = await find(req.params.ref);
      const agent = body.agent !== undefined ? await resolveAgent(body.agent) : undefined;
      const policies =
        body.policies !== undefined ? await resolvePolicies(prisma, body.policies, 'body.policies') : undefined;
      const { connection, applied } = await prisma.$transaction(async (tx) => {
        // Config and secrets are read-modify-write: hold the row so concurrent patches apply in turn.
        await tx.$queryRaw`SELECT id FROM "Connection" WHERE id = ${id}::uuid FOR UPDATE`;
        const current = await tx.connection.findUnique({ where: { id } });
        if (!current) throw notFound('connection', req.params.ref);
        if (body.type !== undefined && body.type !== current.type) {
          throw badRequest('the type of a connection cannot change', [
            { field: 'body.type', message: `is ${current.type}; create a new connection instead` },
          ]);
        }
        const applied = body.config
          ? applyConfig(
              current.type,
              body.config,
              { config: readObject(current.config), secrets: readSecrets(current.secrets) },
              secretBox,
            )
          : undefined;
        const data: Prisma.ConnectionUncheckedUpdateInput = {};
        if (body.name !== undefined) data.name = body.name;
        if (body.description !== undefined) data.description = body.description;
        if (agent) data.agentId = agent.id;
        if (body.allowedGroups !== undefined) data.allowedGroups = [...new Set(body.allowedGroups)];
        if (body.options !== undefined) {
          data.options = mergeObject(readObject(current.options), body.options) as Prisma.InputJsonObject;
        }
        if (policies) data.policies = { set: policies.map((p) => ({ id: p.id })) };
        if (applied) {
          data.config = applied.config as Prisma.InputJsonObject;
          data.secrets = applied.secrets as unknown as Prisma.InputJsonObject;
        }
        const connection = await tx.connection.update({ where: { id }, data, include: withAgent });
        return { connection, applied };
      });
      const secretFields = new Set(connectionTypes[connection.type].secrets);
      const configChanges = body.config
        ? Object.fromEntries(Object.entries(body.config).filter(([key]) => !secretFields.has(key)))
        : undefined;
      await audit.record(
        req,
        'connection.update',
        { type: 'connection', id, name: connection.name },
        {
          name: body.name,
          description: body.description,
          agent: agent?.name,
          config: configChanges,
          sensitiveFields: applied?.changes,
          allowedGroups: body.allowedGroups,
          options: body.options,
          policies: policies?.map((p) => p.name),
        },
      );
      // A different set of policies applies to the live sessions too (the gateway's PolicyRefresh).
      if (policies) {
        await app.services.bus.publish('policy.changed', { connectionIds: [connection.id] }).catch((err: unknown) => {
          req.log.warn({ err }, 'could not announce a policy change to the gateways');
        });
      }
      return present(connection, await live());
    },
  );

  app.delete(
    '/:ref',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Delete a connection',
        params: RefParams,
        response: { 204: Type.Null(), ...errors(403, 404, 409) },
      },
    },
    async (req, reply) => {
      const connection = await find(req.params.ref);
      const sessions = await prisma.session.count({ where: { connectionId: connection.id } });
      if (sessions > 0) {
        throw conflict(
          `connection "${connection.name}" has ${sessions} recorded session(s); remove its allowedGroups instead`,
        );
      }
      await prisma.connection.delete({ where: { id: connection.id } });
      await audit.record(req, 'connection.delete', { type: 'connection', id: connection.id, name: connection.name });
      return reply.code(204).send(null);
    },
  );
}
