import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SignInService } from '@warden/access';
import type { OidcConfig } from '@warden/runtime';
import { badRequest } from '../../errors.js';
import type { ApiInstance } from '../../types.js';
import { OidcClient } from './oidc-client.js';
import { provisionOidcIdentity } from './provision.js';
import { parseReturnTo, withErrorFragment, withQuery, withTokenFragment, type ReturnTo } from './return-to.js';
import { LoginQuery } from './schemas.js';

const COOKIE = 'warden_oidc';
const COOKIE_PATH = '/api/auth/oidc';
const LOGIN_TTL_MS = 10 * 60 * 1000;
const SEALING_CONTEXT = 'oidc-login';

/** What the login step hands the callback, sealed in a cookie so any replica can finish the login. */
interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: ReturnTo;
  expiresAt: number;
}

function readCookie(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function errorPage(reply: FastifyReply, status: number, message: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      `<!doctype html><meta charset="utf-8"><title>Warden sign-in failed</title>` +
        `<h1>Sign-in failed</h1><p>${escapeHtml(message)}</p><p><a href="/">Back to Warden</a></p>`,
    );
}

/** GET /api/auth/oidc/login and /callback: authorization code flow with PKCE, state and nonce. */
export function registerOidcRoutes(app: ApiInstance, settings: OidcConfig, signIns: SignInService) {
  const { prisma, secretBox, config, audit } = app.services;
  const secure = config.publicUrl.startsWith('https:');
  const oidc = new OidcClient(settings, `${config.publicUrl}/api/auth/oidc/callback`);
  const tags = ['auth'];

  function cookie(value: string, maxAgeSeconds: number): string {
    return [
      `${COOKIE}=${encodeURIComponent(value)}`,
      `Path=${COOKIE_PATH}`,
      `Max-Age=${maxAgeSeconds}`,
      'HttpOnly',
      // Lax: the provider's redirect back is a top-level GET navigation, which Lax lets through.
      'SameSite=Lax',
      ...(secure ? ['Secure'] : []),
    ].join('; ');
  }

  app.get(
    '/oidc/login',
    { schema: { tags, summary: 'Start an OIDC login (302 to the identity provider)', querystring: LoginQuery } },
    async (req, reply) => {
      const returnTo = parseReturnTo(req.query.return_to);
      if ('error' in returnTo)
        throw badRequest('invalid return_to', [{ field: 'querystring.return_to', message: returnTo.error }]);
      let request;
      try {
        request = await oidc.authorizationRequest();
      } catch (error) {
        req.log.error({ err: error instanceof Error ? error.message : String(error) }, 'OIDC discovery failed');
        return errorPage(reply, 502, 'The identity provider cannot be reached. Try again in a moment.');
      }
      const pending: PendingLogin = {
        state: request.state,
        nonce: request.nonce,
        codeVerifier: request.codeVerifier,
        returnTo,
        expiresAt: Date.now() + LOGIN_TTL_MS,
      };
      return reply
        .header('set-cookie', cookie(secretBox.seal(JSON.stringify(pending), SEALING_CONTEXT), LOGIN_TTL_MS / 1000))
        .header('cache-control', 'no-store')
        .redirect(request.url.toString(), 302);
    },
  );

  app.get(
    '/oidc/callback',
    {
      schema: { tags, summary: 'Where the identity provider returns; 302 to return_to with the tokens' },
      // The query holds the provider's authorization code: the request log gets the path only.
      logSerializers: {
        req: (request: FastifyRequest) => ({ method: request.method, url: request.url.split('?')[0] }),
      },
    },
    async (req, reply) => {
      reply.header('set-cookie', cookie('', 0)).header('cache-control', 'no-store');
      let pending: PendingLogin | undefined;
      try {
        const sealed = readCookie(req, COOKIE);
        if (sealed) pending = JSON.parse(secretBox.open(sealed, SEALING_CONTEXT)) as PendingLogin;
      } catch {
        pending = undefined;
      }
      if (!pending || pending.expiresAt < Date.now()) {
        req.log.info({ reason: pending ? 'login expired' : 'no login cookie' }, 'OIDC callback refused');
        return errorPage(reply, 400, 'This sign-in link has expired or was opened in another browser. Start again.');
      }
      const fail = (error: string, description: string) => {
        req.log.info({ reason: error, description }, 'OIDC login failed');
        const target = pending.returnTo;
        return reply.redirect(
          target.kind === 'browser'
            ? withErrorFragment(target.url, error, description)
            : withQuery(target.url, { error, error_description: description }),
          302,
        );
      };
      const query = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
      let login;
      try {
        login = await oidc.finish(query, pending);
      } catch (error) {
        const err = error as { error?: string; error_description?: string; code?: string; message?: string };
        // The provider's own error (access_denied...) passes through; check failures say which check.
        if (err.error) return fail(err.error, err.error_description ?? 'the identity provider refused the login');
        req.log.info({ code: err.code, message: err.message }, 'OIDC code exchange failed');
        return fail('login_failed', 'the login could not be verified');
      }
      const identity = await provisionOidcIdentity(prisma, settings, login);
      // The audit log names the person who just proved who they are.
      req.principal = {
        identityId: identity.id,
        name: identity.name,
        kind: 'user',
        role: identity.role,
        groups: identity.groups,
      };
      if (identity.created) {
        await audit.record(
          req,
          'identity.create',
          { type: 'identity', id: identity.id, name: identity.name },
          {
            kind: 'user',
            source: 'oidc',
            groups: identity.groups,
          },
        );
      }
      if (identity.status !== 'active') return fail('access_denied', `the identity is ${identity.status}`);
      await audit.record(
        req,
        'auth.login',
        { type: 'identity', id: identity.id, name: identity.name },
        {
          client: pending.returnTo.kind === 'browser' ? 'browser' : 'cli',
          groups: identity.groups,
        },
      );
      if (pending.returnTo.kind === 'browser') {
        const tokens = await signIns.start(identity.id, 'browser');
        return reply.redirect(withTokenFragment(pending.returnTo.url, tokens), 302);
      }
      const code = await signIns.startWithLoginCode(identity.id);
      return reply.redirect(withQuery(pending.returnTo.url, { code }), 302);
    },
  );
}
