import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { hashToken, principalOf, withGroups, type SignInService } from '@warden/access';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { parseReturnTo, withTokenFragment } from './return-to.js';

export const CONSOLE_LOGIN_PATH = '/api/auth/console-login';

const ConsoleLink = Type.Object({
  url: Type.String({
    description: `${CONSOLE_LOGIN_PATH}?code=... on WARDEN_PUBLIC_URL; open it once, within expiresIn seconds`,
  }),
  code: Type.String({ description: 'the one-time code (`wdc_...`) in the link' }),
  expiresIn: Type.Integer({ description: 'seconds the link stays usable' }),
});

const ConsoleLoginQuery = Type.Object(
  {
    code: Type.String({
      minLength: 1,
      maxLength: 512,
      description: 'the one-time code of POST /api/auth/console-link',
    }),
    to: Type.Optional(
      Type.String({ maxLength: 2048, description: 'where in the console to land: a path on this origin; default /' }),
    ),
  },
  { additionalProperties: false },
);

const refusals = {
  unknown: 'This sign-in link is not valid.',
  expired: 'This sign-in link has expired.',
  reused: 'This sign-in link was already used; the sign-in it started has been ended.',
  revoked: 'The sign-in of this link has been ended.',
  identity_inactive: 'The identity is disabled or blocked.',
} as const;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function refusalPage(reply: FastifyReply, status: number, message: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(
      `<!doctype html><meta charset="utf-8"><title>Warden sign-in failed</title>` +
        `<h1>Sign-in failed</h1><p>${escapeHtml(message)}</p>` +
        `<p>Run <code>warden console</code> again for a new link, or <a href="/">sign in</a>.</p>`,
    );
}

/**
 * The console's sign-in for terminal users (`warden console`): whoever holds a token (an
 * API key, or an access token) asks for a one-time link, and the browser that opens it gets
 * a sign-in of its own, the same way as after SSO: tokens in the URL fragment of the
 * redirect, which the console reads and strips. The code is a login code of the CLI's OIDC
 * flow (single use, two minutes; a second use ends the sign-in it started).
 */
export function registerConsoleLinkRoutes(app: ApiInstance, signIns: SignInService) {
  const { prisma, config, audit } = app.services;
  const tags = ['auth'];

  app.post(
    '/console-link',
    {
      schema: {
        tags,
        summary: 'A one-time link that opens the web console signed in as the caller (`warden console`)',
        response: { 200: ConsoleLink, ...errors(401) },
      },
    },
    async (req, reply) => {
      const code = await signIns.startWithLoginCode(req.principal.identityId);
      const row = await prisma.refreshToken.findUniqueOrThrow({ where: { hash: hashToken(code) } });
      const expiresIn = Math.max(0, Math.floor((row.expiresAt.getTime() - Date.now()) / 1000));
      return reply.header('cache-control', 'no-store').send({
        url: `${config.publicUrl}${CONSOLE_LOGIN_PATH}?code=${encodeURIComponent(code)}`,
        code,
        expiresIn,
      });
    },
  );

  app.get(
    '/console-login',
    {
      schema: {
        tags,
        security: [],
        summary: "Open a console link: 302 to the console with the browser's tokens in the URL fragment",
        querystring: ConsoleLoginQuery,
      },
      // The query holds the one-time code: the request log gets the path only.
      logSerializers: {
        req: (request: FastifyRequest) => ({ method: request.method, url: request.url.split('?')[0] }),
      },
    },
    async (req, reply) => {
      // Neither the code nor, after the redirect, the tokens may reach another site or a cache.
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      const to = parseReturnTo(req.query.to);
      if ('error' in to || to.kind !== 'browser') {
        return refusalPage(reply, 400, `"to" ${'error' in to ? to.error : 'must be a path on this origin'}.`);
      }
      const result = await signIns.exchange(req.query.code);
      if (!result.ok) {
        req.log.info({ reason: result.reason }, 'console link refused');
        await app.authThrottle.failed(req);
        return refusalPage(reply, 401, refusals[result.reason]);
      }
      // The sign-in is the browser's from here on (the sign-ins list tells browser from CLI).
      await prisma.authSession.update({ where: { id: result.sessionId }, data: { client: 'browser' } });
      const identity = await prisma.identity.findUniqueOrThrow({
        where: { id: result.identityId },
        include: withGroups,
      });
      const principal = principalOf(identity, { authSessionId: result.sessionId });
      if (principal.ok) req.principal = principal.principal;
      await audit.record(
        req,
        'auth.login',
        { type: 'identity', id: identity.id, name: identity.name },
        { client: 'browser', via: 'console-link' },
      );
      return reply.redirect(withTokenFragment(to.url, result.tokens), 302);
    },
  );
}
