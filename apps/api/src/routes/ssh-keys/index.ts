import { Type } from 'typebox';
import type { Principal } from '@warden/access';
import type { Prisma } from '@warden/db';
import { ApiError, badRequest, notFound } from '../../errors.js';
import { byIdOrName, isUuid } from '../../lookup.js';
import { requireRole } from '../../plugins/auth.js';
import { errors, IdParams } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { parsePublicKey } from './public-key.js';
import { SshKey, SshKeyBody, SshKeyQuery } from './schemas.js';

const withIdentity = { identity: { select: { id: true, name: true } } } as const;
type SshKeyRow = Prisma.SshPublicKeyGetPayload<{ include: typeof withIdentity }>;

function present(key: SshKeyRow) {
  return {
    id: key.id,
    name: key.name,
    fingerprint: key.fingerprint,
    publicKey: key.publicKey,
    identity: key.identity,
    createdAt: key.createdAt.toISOString(),
  };
}

function seesAll(principal: Principal): boolean {
  return principal.role === 'admin' || principal.role === 'auditor';
}

/**
 * SSH public keys registered to identities: a registered key logs its owner in to
 * the gateway's SSH listener (`ssh -i key <connection>@gateway`) instead of a token.
 * A fingerprint belongs to one identity only. Users manage their own keys.
 */
export async function sshKeyRoutes(app: ApiInstance) {
  const { prisma, audit, bus } = app.services;
  const writer = { preValidation: requireRole('admin', 'user') };
  const tags = ['ssh-keys'];

  async function find(id: string, principal: Principal) {
    const key = isUuid(id) ? await prisma.sshPublicKey.findUnique({ where: { id }, include: withIdentity }) : null;
    if (!key || (!seesAll(principal) && key.identityId !== principal.identityId)) throw notFound('SSH key', id);
    return key;
  }

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List SSH public keys (users: their own)',
        querystring: SshKeyQuery,
        response: { 200: Type.Array(SshKey), ...errors(400) },
      },
    },
    async (req) => {
      const where: Prisma.SshPublicKeyWhereInput = {};
      if (!seesAll(req.principal)) where.identityId = req.principal.identityId;
      if (req.query.identity !== undefined) where.identity = byIdOrName(req.query.identity);
      const keys = await prisma.sshPublicKey.findMany({ where, include: withIdentity, orderBy: { createdAt: 'desc' } });
      return keys.map(present);
    },
  );

  app.get(
    '/:id',
    { schema: { tags, summary: 'Get an SSH public key', params: IdParams, response: { 200: SshKey, ...errors(404) } } },
    async (req) => present(await find(req.params.id, req.principal)),
  );

  app.post(
    '/',
    {
      ...writer,
      schema: {
        tags,
        summary: 'Register an SSH public key for an identity (default: the caller)',
        body: SshKeyBody,
        response: { 201: SshKey, ...errors(400, 403, 409) },
      },
    },
    async (req, reply) => {
      const { principal, body } = req;
      const parsed = parsePublicKey(body.publicKey);
      if (!parsed.ok) throw badRequest('invalid public key', [{ field: 'body.publicKey', message: parsed.message }]);
      let owner = { id: principal.identityId, name: principal.name };
      if (body.identity !== undefined && body.identity !== principal.name && body.identity !== principal.identityId) {
        if (principal.role !== 'admin') throw new ApiError(403, 'only admins register keys for other identities');
        const found = await prisma.identity.findFirst({ where: byIdOrName(body.identity) });
        if (!found) {
          throw badRequest('unknown identity', [
            { field: 'body.identity', message: `user "${body.identity}" not found` },
          ]);
        }
        owner = { id: found.id, name: found.name };
      }
      const existing = await prisma.sshPublicKey.findUnique({ where: { fingerprint: parsed.fingerprint } });
      if (existing) throw new ApiError(409, `this key (${parsed.fingerprint}) is already registered`);
      const key = await prisma.sshPublicKey.create({
        data: { identityId: owner.id, name: body.name, fingerprint: parsed.fingerprint, publicKey: parsed.normalized },
        include: withIdentity,
      });
      await audit.record(
        req,
        'ssh_key.create',
        { type: 'ssh_key', id: key.id, name: key.name },
        { identity: owner.name, fingerprint: key.fingerprint },
      );
      return reply.code(201).send(present(key));
    },
  );

  app.delete(
    '/:id',
    {
      ...writer,
      schema: {
        tags,
        summary: 'Remove an SSH public key (it stops logging in at once; sessions it opened end)',
        params: IdParams,
        response: { 204: Type.Null(), ...errors(403, 404) },
      },
    },
    async (req, reply) => {
      const key = await find(req.params.id, req.principal);
      await prisma.sshPublicKey.delete({ where: { id: key.id } });
      // Sessions that logged in with it end too, on every gateway replica.
      await bus.publish('credential.revoked', { sshKeyId: key.id, reason: 'the SSH key was removed' });
      await audit.record(
        req,
        'ssh_key.delete',
        { type: 'ssh_key', id: key.id, name: key.name },
        { identity: key.identity.name, fingerprint: key.fingerprint },
      );
      return reply.code(204).send(null);
    },
  );
}
