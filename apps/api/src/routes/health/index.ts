import { Type } from 'typebox';
import type { ApiInstance } from '../../types.js';

const Health = Type.Object({ status: Type.String(), database: Type.Optional(Type.String()) });

/** Liveness and readiness for load balancers and Kubernetes probes (no auth). */
export async function healthRoutes(app: ApiInstance) {
  app.get('/healthz', { schema: { tags: ['health'], security: [], response: { 200: Health } } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], security: [], response: { 200: Health, 503: Health } } },
    async (request, reply) => {
      try {
        await app.services.prisma.$queryRaw`SELECT 1`;
        return { status: 'ready', database: 'ok' };
      } catch (err) {
        request.log.warn({ err }, 'readiness check failed');
        return reply.code(503).send({ status: 'unavailable', database: 'unreachable' });
      }
    },
  );
}
