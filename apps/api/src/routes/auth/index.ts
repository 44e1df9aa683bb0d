import { Type } from 'typebox';
import { AccessTokenSigner, authenticateToken, looksLikeJwt, publicJwks, SignInService } from '@warden/access';
import { ApiError, badRequest } from '../../errors.js';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';
import { CONSOLE_LOGIN_PATH, registerConsoleLinkRoutes } from './console-link.js';
import { registerOidcRoutes } from './oidc-routes.js';
import { registerSignInRoutes } from './sign-ins.js';
import { AuthConfig, ExchangeBody, Jwks, RefreshBody, TokenResponse } from './schemas.js';

/**
 * Paths under /api/auth that answer without a bearer token (the auth plugin exempts
 * them): they are how a caller gets a token in the first place.
 */
export const PUBLIC_AUTH_PATHS: ReadonlySet<string> = new Set([
  '/api/auth/config',
  '/api/auth/jwks',
  '/api/auth/oidc/login',
  '/api/auth/oidc/callback',
  '/api/auth/refresh',
  '/api/auth/exchange',
  '/api/auth/logout',
  CONSOLE_LOGIN_PATH,
]);

const redeemFailures = {
  unknown: 'the token is not valid',
  expired: 'the sign-in has expired; log in again',
  reused: 'the token was already used; the sign-in has been revoked, log in again',
  revoked: 'the sign-in has been revoked; log in again',
  identity_inactive: 'the identity is disabled or blocked',
} as const;

/** Sign-in: OIDC login, access and refresh tokens (issue 7). Mounted at /api/auth. */
export async function authRoutes(app: ApiInstance) {
  const { prisma, secretBox, config, audit, bus } = app.services;
  const signer = await AccessTokenSigner.load(prisma, secretBox, config.publicUrl);
  const signIns = new SignInService(prisma, signer, {
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
    onRevoked: async (authSessionId, reason) => {
      await bus.publish('credential.revoked', { authSessionId, reason: `sign-in ended (${reason})` });
    },
  });
  const tags = ['auth'];
  const publicRoute = { security: [] };

  app.get(
    '/config',
    { schema: { tags, ...publicRoute, summary: 'How to sign in (no authentication)', response: { 200: AuthConfig } } },
    async () => ({ oidc: config.oidc ? { enabled: true, issuer: config.oidc.issuer } : { enabled: false } }),
  );

  app.get(
    '/jwks',
    {
      schema: { tags, ...publicRoute, summary: 'Public keys of the access tokens (JWKS)', response: { 200: Jwks } },
    },
    async () => publicJwks(prisma),
  );

  app.post(
    '/refresh',
    {
      schema: {
        tags,
        ...publicRoute,
        summary: 'Trade a refresh token for a new access token and a new refresh token (single use)',
        body: RefreshBody,
        response: { 200: TokenResponse, ...errors(400, 401) },
      },
    },
    async (req, reply) => {
      const result = await signIns.refresh(req.body.refresh_token);
      if (!result.ok) {
        req.log.info({ reason: result.reason }, 'refresh refused');
        await app.authThrottle.failed(req);
        throw new ApiError(401, redeemFailures[result.reason]);
      }
      return reply.header('cache-control', 'no-store').send(result.tokens);
    },
  );

  app.post(
    '/exchange',
    {
      schema: {
        tags,
        ...publicRoute,
        summary: "Trade the CLI's one-time login code for tokens",
        body: ExchangeBody,
        response: { 200: TokenResponse, ...errors(400, 401) },
      },
    },
    async (req, reply) => {
      const result = await signIns.exchange(req.body.code);
      if (!result.ok) {
        req.log.info({ reason: result.reason }, 'login code refused');
        await app.authThrottle.failed(req);
        throw new ApiError(401, redeemFailures[result.reason]);
      }
      return reply.header('cache-control', 'no-store').send(result.tokens);
    },
  );

  app.post(
    '/logout',
    {
      schema: {
        tags,
        summary:
          'End a sign-in: its access and refresh tokens stop working at once. Identify it by the ' +
          'bearer access token, or by {refresh_token} (works after the access token expired)',
        // No body schema: logging out with only the bearer token sends no body at all.
        description: 'Optional JSON body `{"refresh_token": "wdr_..."}`.',
        response: { 204: Type.Null(), ...errors(400, 401) },
      },
    },
    async (req, reply) => {
      let session: { id: string; identityId: string } | null = null;
      const body: unknown = req.body ?? {};
      const refreshToken =
        typeof body === 'object' && body ? (body as { refresh_token?: unknown }).refresh_token : undefined;
      if (
        refreshToken !== undefined &&
        (typeof refreshToken !== 'string' || !refreshToken || refreshToken.length > 512)
      ) {
        throw badRequest('invalid body', [{ field: 'body.refresh_token', message: 'must be a non-empty string' }]);
      }
      if (refreshToken) {
        session = await signIns.sessionOfRefreshToken(refreshToken);
      } else {
        const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
        if (bearer && !looksLikeJwt(bearer)) {
          throw badRequest('API keys are revoked with DELETE /api/api-keys/:id, not logged out');
        }
        const auth = await authenticateToken(prisma, bearer);
        if (auth.ok && auth.principal.authSessionId) {
          session = { id: auth.principal.authSessionId, identityId: auth.principal.identityId };
          req.principal = auth.principal;
        } else if (!auth.ok) {
          req.log.info({ reason: auth.reason }, 'logout refused');
        }
      }
      if (!session) {
        // A credential that matched nothing counts toward the address's lockout (plugins/auth-throttle.ts).
        if (refreshToken || req.headers.authorization) await app.authThrottle.failed(req);
        throw new ApiError(401, 'give the access token as bearer token or the refresh_token in the body');
      }
      if (await signIns.revoke(session.id, 'logout')) {
        await audit.record(
          req,
          'auth.logout',
          { type: 'auth_session', id: session.id },
          { identityId: session.identityId },
        );
      }
      return reply.code(204).send(null);
    },
  );

  registerSignInRoutes(app, signIns);
  registerConsoleLinkRoutes(app, signIns);
  if (config.oidc) registerOidcRoutes(app, config.oidc, signIns);
  else {
    const disabled = async () => {
      throw new ApiError(404, 'OIDC login is not configured (set WARDEN_OIDC_ISSUER and WARDEN_OIDC_CLIENT_ID)');
    };
    app.get('/oidc/login', { schema: { tags, ...publicRoute, hide: true } }, disabled);
    app.get('/oidc/callback', { schema: { tags, ...publicRoute, hide: true } }, disabled);
  }
}
