import { Type } from 'typebox';
import type { ApiInstance } from '../../types.js';

const Health = Type.Object({
  status: Type.String(),
  database: Type.Optional(Type.String()),
  bus: Type.Optional(
    Type.String({
      description:
        'The control bus (Redis) that tells gateways about kills, blocks and review decisions at once: ok or ' +
        'unreachable. Absent without Redis (one process, in-process delivery).',
    }),
  ),
});

/** A check that does not answer within this is a failed check: a probe must not hang on a dead dependency. */
const CHECK_TIMEOUT_MS = 2000;

/** Liveness and readiness for load balancers and Kubernetes probes (no auth). */
export async function healthRoutes(app: ApiInstance) {
  app.get('/healthz', { schema: { tags: ['health'], security: [], response: { 200: Health } } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        security: [],
        description:
          'Ready when the control-plane database answers and, with Redis configured, the control bus does. ' +
          '503 names what is unreachable. Without the bus, kills and blocks still work (gateways read them ' +
          'from the database every few seconds) but notices reach other replicas late.',
        response: { 200: Health, 503: Health },
      },
    },
    async (request, reply) => {
      const { prisma, bus } = app.services;
      const [database, busHealth] = await Promise.all([
        bounded(prisma.$queryRaw`SELECT 1`).then(
          () => 'ok',
          (err: unknown) => {
            request.log.warn({ err }, 'readiness check: the database is unreachable');
            return 'unreachable';
          },
        ),
        bus.mode === 'redis' ? bus.check() : undefined,
      ]);
      const body: { status: string; database: string; bus?: string } = { status: 'ready', database };
      if (busHealth) {
        body.bus = busHealth.up ? 'ok' : 'unreachable';
        if (!busHealth.up) request.log.warn({ detail: busHealth.detail }, 'readiness check: the control bus is down');
      }
      if (database !== 'ok' || body.bus === 'unreachable') {
        return reply.code(503).send({ ...body, status: 'unavailable' });
      }
      return body;
    },
  );
}

function bounded<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}
