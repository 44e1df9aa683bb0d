import { Type } from 'typebox';
import { issueToken, type Principal } from '@warden/access';
import type { Prisma } from '@warden/db';
import { ApiError, badRequest, notFound } from '../../errors.js';
import { byIdOrName, isUuid } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors, IdParams } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { ApiKey, ApiKeyBody, ApiKeyQuery, ApiKeyWithToken } from './schemas.js';

const withIdentity = { identity: { select: { id: true, name: true } } } as const;
type ApiKeyRow = Prisma.ApiKeyGetPayload<{ include: typeof withIdentity }>;

/** Never the hash: the prefix is what people recognise a key by. */
function present(key: ApiKeyRow) {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    identity: key.identity,
    expiresAt: key.expiresAt?.toISOString() ?? null,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
  };
}

/** Admins and auditors see every key; everyone else only their own. */
function seesAll(principal: Principal): boolean {
  return principal.role === 'admin' || principal.role === 'auditor';
}

/** API keys (`wdn_...`): bearer tokens for the API and the gateway listeners. */
export async function apiKeyRoutes(app: ApiInstance) {
  const { prisma, audit, bus } = app.services;
  // Auditors never write, not even their own keys; users manage their own.
  const writer = { preValidation: requireRole('admin', 'user') };
  const tags = ['api-keys'];

  async function find(id: string, principal: Principal) {
    const key = isUuid(id) ? await prisma.apiKey.findUnique({ where: { id }, include: withIdentity }) : null;
    // Someone else's key does not exist for a user (no 403 that confirms the id).
    if (!key || (!seesAll(principal) && key.identityId !== principal.identityId)) throw notFound('API key', id);
    return key;
  }

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List API keys (users: their own)',
        querystring: ApiKeyQuery,
        response: { 200: Type.Array(ApiKey), ...errors(400) },
      },
    },
    async (req) => {
      const where: Prisma.ApiKeyWhereInput = {};
      if (!seesAll(req.principal)) where.identityId = req.principal.identityId;
      if (req.query.identity !== undefined) where.identity = byIdOrName(req.query.identity);
      const keys = await prisma.apiKey.findMany({ where, include: withIdentity, orderBy: { createdAt: 'desc' } });
      return keys.map(present);
    },
  );

  app.get(
    '/:id',
    {
      schema: { tags, summary: 'Get an API key', params: IdParams, response: { 200: ApiKey, ...errors(404) } },
    },
    async (req) => present(await find(req.params.id, req.principal)),
  );

  app.post(
    '/',
    {
      ...writer,
      schema: {
        tags,
        summary: 'Create an API key; the response holds the token, shown once',
        body: ApiKeyBody,
        response: { 201: ApiKeyWithToken, ...errors(400, 403, 409) },
      },
    },
    async (req, reply) => {
      const { principal } = req;
      const body = req.body;
      let owner = { id: principal.identityId, name: principal.name };
      if (body.identity !== undefined && body.identity !== principal.name && body.identity !== principal.identityId) {
        if (principal.role !== 'admin') throw new ApiError(403, 'only admins create API keys for other identities');
        const found = await prisma.identity.findFirst({ where: byIdOrName(body.identity) });
        if (!found) {
          throw badRequest('unknown identity', [
            { field: 'body.identity', message: `user "${body.identity}" not found` },
          ]);
        }
        owner = { id: found.id, name: found.name };
      }
      const expiresAt = body.expiresAt !== undefined ? new Date(body.expiresAt) : null;
      if (expiresAt && expiresAt.getTime() <= Date.now()) {
        throw badRequest('expiresAt is in the past', [{ field: 'body.expiresAt', message: 'must be in the future' }]);
      }
      const issued = issueToken('apiKey');
      const key = await prisma.apiKey.create({
        data: { identityId: owner.id, name: body.name, prefix: issued.prefix, hash: issued.hash, expiresAt },
        include: withIdentity,
      });
      await audit.record(
        req,
        'api_key.create',
        { type: 'api_key', id: key.id, name: key.name },
        {
          identity: owner.name,
          prefix: key.prefix,
          expiresAt: key.expiresAt?.toISOString() ?? null,
        },
      );
      return reply.code(201).send({ apiKey: present(key), token: issued.token });
    },
  );

  app.delete(
    '/:id',
    {
      ...writer,
      schema: {
        tags,
        summary: 'Revoke an API key (it stops working at once)',
        params: IdParams,
        response: { 204: Type.Null(), ...errors(403, 404) },
      },
    },
    async (req, reply) => {
      const key = await find(req.params.id, req.principal);
      // Idempotent: revoking twice keeps the first revocation time and audits once.
      const { count } = await prisma.apiKey.updateMany({
        where: { id: key.id, revokedAt: null },
        data: { revokedAt: new Date() },
      });
      if (count) {
        await bus.publish('credential.revoked', { apiKeyId: key.id, reason: 'the API key was revoked' });
        await audit.record(
          req,
          'api_key.revoke',
          { type: 'api_key', id: key.id, name: key.name },
          {
            identity: key.identity.name,
            prefix: key.prefix,
          },
        );
      }
      return reply.code(204).send(null);
    },
  );
}
