import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { authenticateToken, authFailureMessages } from '@warden/access';
import type { Role } from '@warden/db';
import { ApiError } from '../errors.js';
import { PUBLIC_AUTH_PATHS } from '../routes/auth/index.js';
import type { ApiInstance } from '../types.js';
import { authThrottlePlugin } from './auth-throttle.js';

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

/** Paths under /api that neither carry nor hand out a credential: a locked-out address still reads them. */
const UNTHROTTLED_PATHS: ReadonlySet<string> = new Set(['/api/openapi.json', '/api/auth/config', '/api/auth/jwks']);

/**
 * Authenticates every request under /api, except the OpenAPI document and the sign-in
 * endpoints (PUBLIC_AUTH_PATHS), which are how a caller gets a token. Tokens are never
 * logged: pino redacts the header and failures log only the precise reason. An address
 * that failed too often is refused before its token is looked up (auth-throttle.ts).
 */
export const authPlugin = fp(async (app: ApiInstance) => {
  await app.register(authThrottlePlugin);
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/api/') || UNTHROTTLED_PATHS.has(path)) return;
    await app.authThrottle.check(request);
    if (PUBLIC_AUTH_PATHS.has(path)) return;
    const result = await authenticateToken(app.services.prisma, bearerToken(request));
    if (!result.ok) {
      request.log.info({ reason: result.reason }, 'authentication failed');
      // No credential at all looked nothing up and guessed nothing.
      if (result.reason !== 'missing') await app.authThrottle.failed(request);
      throw new ApiError(401, authFailureMessages[result.reason]);
    }
    request.principal = result.principal;
  });
});

/** preHandler that admits only the given roles (403 otherwise). */
export function requireRole(...roles: Role[]) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    if (!roles.includes(request.principal.role)) {
      throw new ApiError(403, `requires role ${roles.join(' or ')}`);
    }
  };
}
