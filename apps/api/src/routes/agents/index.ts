import { Type } from 'typebox';
import { issueToken } from '@warden/access';
import { liveAgentIds, type Prisma } from '@warden/db';
import { conflict, notFound } from '../../errors.js';
import { byIdOrName } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors, RefParams } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { Agent, AgentBody, AgentPatch, AgentWithKey } from './schemas.js';

const withCount = { _count: { select: { connections: true } } } as const;
type AgentRow = Prisma.AgentGetPayload<{ include: typeof withCount }>;

/**
 * Never the key hash: only the display prefix identifies the key. The status is read from the
 * presence gateway replicas keep fresh (`live`), not from the status column alone: when every
 * replica died, nobody was left to mark the agent offline there.
 */
function present(agent: AgentRow, live: Set<string>) {
  return {
    id: agent.id,
    name: agent.name,
    description: agent.description,
    status: live.has(agent.id) ? ('online' as const) : ('offline' as const),
    version: agent.version,
    hostname: agent.hostname,
    lastSeenAt: agent.lastSeenAt?.toISOString() ?? null,
    revokedAt: agent.revokedAt?.toISOString() ?? null,
    keyPrefix: agent.keyPrefix,
    connectionCount: agent._count.connections,
    createdAt: agent.createdAt.toISOString(),
    updatedAt: agent.updatedAt.toISOString(),
  };
}

/** Agents run inside customer networks, dial out to the gateway and hold target credentials. */
export async function agentRoutes(app: ApiInstance) {
  const { prisma, audit, bus, config } = app.services;
  const live = () => liveAgentIds(prisma, config.agentPresenceIntervalMs);
  // Roles are checked before the body is validated: a caller without the role gets 403, never 400.
  const admin = { preValidation: requireRole('admin') };
  const reader = { preValidation: requireRole('admin', 'auditor') };
  const tags = ['agents'];

  async function find(ref: string) {
    const agent = await prisma.agent.findFirst({ where: byIdOrName(ref), include: withCount });
    if (!agent) throw notFound('agent', ref);
    return agent;
  }

  app.get(
    '/',
    { ...reader, schema: { tags, summary: 'List agents', response: { 200: Type.Array(Agent), ...errors(403) } } },
    async () => {
      const [agents, online] = await Promise.all([
        prisma.agent.findMany({ include: withCount, orderBy: { name: 'asc' } }),
        live(),
      ]);
      return agents.map((agent) => present(agent, online));
    },
  );

  app.get(
    '/:ref',
    {
      ...reader,
      schema: {
        tags,
        summary: 'Get an agent by id or name',
        params: RefParams,
        response: { 200: Agent, ...errors(403, 404) },
      },
    },
    async (req) => present(await find(req.params.ref), await live()),
  );

  app.post(
    '/',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Register an agent; the response holds its key, shown once',
        body: AgentBody,
        response: { 201: AgentWithKey, ...errors(400, 403, 409) },
      },
    },
    async (req, reply) => {
      const issued = issueToken('agentKey');
      const agent = await prisma.agent.create({
        data: {
          name: req.body.name,
          description: req.body.description ?? null,
          keyPrefix: issued.prefix,
          keyHash: issued.hash,
        },
        include: withCount,
      });
      await audit.record(
        req,
        'agent.create',
        { type: 'agent', id: agent.id, name: agent.name },
        {
          description: req.body.description,
          keyPrefix: agent.keyPrefix,
        },
      );
      return reply.code(201).send({ agent: present(agent, await live()), key: issued.token });
    },
  );

  app.patch(
    '/:ref',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Update an agent',
        params: RefParams,
        body: AgentPatch,
        response: { 200: Agent, ...errors(400, 403, 404) },
      },
    },
    async (req) => {
      const { id } = await find(req.params.ref);
      const agent = await prisma.agent.update({
        where: { id },
        data: { description: req.body.description },
        include: withCount,
      });
      await audit.record(req, 'agent.update', { type: 'agent', id, name: agent.name }, req.body);
      return present(agent, await live());
    },
  );

  app.delete(
    '/:ref',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Delete an agent that serves no connection',
        params: RefParams,
        response: { 204: Type.Null(), ...errors(403, 404, 409) },
      },
    },
    async (req, reply) => {
      const agent = await find(req.params.ref);
      const used = await prisma.connection.findMany({
        where: { agentId: agent.id },
        select: { name: true },
        orderBy: { name: 'asc' },
        take: 10,
      });
      if (used.length) {
        throw conflict(
          `agent "${agent.name}" serves ${agent._count.connections} connection(s) (${used.map((c) => c.name).join(', ')}); move or delete them first`,
        );
      }
      // A connection created meanwhile makes this fail on the foreign key: 409 centrally.
      await prisma.agent.delete({ where: { id: agent.id } });
      await audit.record(req, 'agent.delete', { type: 'agent', id: agent.id, name: agent.name });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/:ref/rotate-key',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Replace the agent key; the old one stops working',
        params: RefParams,
        response: { 200: AgentWithKey, ...errors(403, 404, 409) },
      },
    },
    async (req) => {
      const { id, revokedAt, name } = await find(req.params.ref);
      if (revokedAt) throw conflict(`agent "${name}" is revoked; register a new agent instead`);
      const issued = issueToken('agentKey');
      const agent = await prisma.agent.update({
        where: { id },
        data: { keyPrefix: issued.prefix, keyHash: issued.hash },
        include: withCount,
      });
      await audit.record(
        req,
        'agent.rotate_key',
        { type: 'agent', id, name: agent.name },
        {
          keyPrefix: agent.keyPrefix,
        },
      );
      // "The old one stops working" includes streams it already holds: they are dropped,
      // and the agent gets back in once it is given the new key.
      await bus.publish('agent.revoked', { agentId: id });
      return { agent: present(agent, await live()), key: issued.token };
    },
  );

  app.post(
    '/:ref/revoke',
    {
      ...admin,
      schema: {
        tags,
        summary: 'Revoke an agent: its key stops working for good',
        params: RefParams,
        response: { 200: Agent, ...errors(403, 404) },
      },
    },
    async (req) => {
      const found = await find(req.params.ref);
      // Idempotent: revoking twice keeps the first revocation time and audits once.
      const { count } = await prisma.agent.updateMany({
        where: { id: found.id, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      if (count) await audit.record(req, 'agent.revoke', { type: 'agent', id: found.id, name: found.name });
      // Every time, not only the first: a replica that missed the message still holds the stream.
      // The key is refused from now on; this drops the streams it already opened.
      await bus.publish('agent.revoked', { agentId: found.id });
      return present(await find(found.id), await live());
    },
  );
}
