import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { authenticateToken, authFailureMessages } from '@warden/access';
import type { Role } from '@warden/db';
import { ApiError } from '../errors.js';
import { PUBLIC_AUTH_PATHS } from '../routes/auth/index.js';
import type { ApiInstance } from '../types.js';

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? '';
}

/**
 * Authenticates every request under /api, except the OpenAPI document and the sign-in
 * endpoints (PUBLIC_AUTH_PATHS), which are how a caller gets a token. Tokens are never
 * logged: pino redacts the header and failures log only the precise reason.
 */
export const authPlugin = fp(async (app: ApiInstance) => {
  app.decorateRequest('principal', null as never);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0] ?? '';
    if (!path.startsWith('/api/') || path === '/api/openapi.json' || PUBLIC_AUTH_PATHS.has(path)) return;
    const result = await authenticateToken(app.services.prisma, bearerToken(request));
    if (!result.ok) {
      request.log.info({ reason: result.reason }, 'authentication failed');
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
