import { Type } from 'typebox';
import type { Principal, SignInService } from '@warden/access';
import type { Prisma } from '@warden/db';
import { ApiError, notFound } from '../../errors.js';
import { byIdOrName, isUuid } from '../../lookup.js';
import { errors, Id, IdParams, Nullable, Timestamp } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';

const SignIn = Type.Object({
  id: Id,
  identity: Type.Object({ id: Id, name: Type.String() }),
  client: Type.String({ description: 'browser or cli' }),
  createdAt: Timestamp,
  expiresAt: Timestamp,
  revokedAt: Nullable(Timestamp),
  revokedReason: Nullable(Type.String()),
  current: Type.Boolean({ description: 'whether the calling access token belongs to this sign-in' }),
});

const SignInQuery = Type.Object(
  {
    identity: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'identity id or name' })),
    active: Type.Optional(Type.Boolean({ description: 'only sign-ins neither revoked nor expired' })),
  },
  { additionalProperties: false },
);

const seesAll = (p: Principal) => p.role === 'admin' || p.role === 'auditor';

/** Sign-ins (OIDC logins with their refresh tokens): list them, and revoke one (its tokens stop at once). */
export function registerSignInRoutes(app: ApiInstance, signIns: SignInService) {
  const { prisma, audit } = app.services;
  const tags = ['auth'];
  const include = { identity: { select: { id: true, name: true } } } as const;

  app.get(
    '/sign-ins',
    {
      schema: {
        tags,
        summary: 'List sign-ins, newest first (users: their own)',
        querystring: SignInQuery,
        response: { 200: Type.Array(SignIn), ...errors(400) },
      },
    },
    async (req) => {
      const where: Prisma.AuthSessionWhereInput = {};
      if (!seesAll(req.principal)) where.identityId = req.principal.identityId;
      if (req.query.identity !== undefined) where.identity = byIdOrName(req.query.identity);
      if (req.query.active) Object.assign(where, { revokedAt: null, expiresAt: { gt: new Date() } });
      const rows = await prisma.authSession.findMany({ where, include, orderBy: { createdAt: 'desc' }, take: 500 });
      return rows.map((row) => ({
        id: row.id,
        identity: row.identity,
        client: row.client,
        createdAt: row.createdAt.toISOString(),
        expiresAt: row.expiresAt.toISOString(),
        revokedAt: row.revokedAt?.toISOString() ?? null,
        revokedReason: row.revokedReason,
        current: row.id === req.principal.authSessionId,
      }));
    },
  );

  app.delete(
    '/sign-ins/:id',
    {
      schema: {
        tags,
        summary: "Revoke a sign-in: its access and refresh tokens stop working at once (admins: anyone's)",
        params: IdParams,
        response: { 204: Type.Null(), ...errors(403, 404) },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const row = isUuid(id) ? await prisma.authSession.findUnique({ where: { id }, include }) : null;
      // Someone else's sign-in does not exist for a user (no 403 that confirms the id).
      if (!row || (!seesAll(req.principal) && row.identityId !== req.principal.identityId)) {
        throw notFound('sign-in', id);
      }
      if (req.principal.role === 'auditor' && row.identityId !== req.principal.identityId) {
        throw new ApiError(403, 'auditors read, they do not revoke');
      }
      if (await signIns.revoke(row.id, `revoked by ${req.principal.name}`)) {
        await audit.record(
          req,
          'auth.sign_in.revoke',
          { type: 'auth_session', id: row.id },
          {
            identity: row.identity.name,
          },
        );
      }
      return reply.code(204).send(null);
    },
  );
}
