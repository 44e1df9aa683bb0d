import Fastify, { type FastifyBaseLogger } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createControlBus, type ControlBus } from '@warden/control-bus';
import { registerBusSource } from '@warden/runtime/metrics';
import type { PrismaClient } from '@warden/db';
import { ReviewService } from '@warden/reviews';
import type { Logger, SecretBox, WardenConfig } from '@warden/runtime';
import { AuditLog } from './audit.js';
import { errorHandler } from './errors.js';
import { authPlugin } from './plugins/auth.js';
import { inputPlugin } from './plugins/input.js';
import { reviewJobsPlugin } from './jobs/review-notifications.js';
import { consolePlugin } from './console/index.js';
import { observabilityPlugin } from './observability/index.js';
import { jobsPlugin } from './plugins/jobs.js';
import { agentRoutes } from './routes/agents/index.js';
import { apiKeyRoutes } from './routes/api-keys/index.js';
import { auditRoutes } from './routes/audit/index.js';
import { authRoutes } from './routes/auth/index.js';
import { connectionRoutes } from './routes/connections/index.js';
import { containmentRoutes } from './routes/containment/index.js';
import { eventRoutes } from './routes/events/index.js';
import { groupRoutes } from './routes/groups/index.js';
import { healthRoutes } from './routes/health/index.js';
import { policyRoutes } from './routes/policies/index.js';
import { reviewRoutes } from './routes/reviews/index.js';
import { sessionRoutes } from './routes/sessions/index.js';
import { sshHostKeyRoutes } from './routes/ssh-host-key/index.js';
import { sshKeyRoutes } from './routes/ssh-keys/index.js';
import { userRoutes } from './routes/users/index.js';
import { webhookRoutes } from './routes/webhooks/index.js';
import { OutboundPolicy } from './jobs/outbound-http.js';
import type { ApiInstance } from './types.js';

export interface ApiOptions {
  prisma: PrismaClient;
  secretBox: SecretBox;
  config: WardenConfig;
  logger: Logger;
  /**
   * The control bus shared with the gateway (the embedded stack passes one to both). When absent
   * the API makes its own from config.redisUrl (in-process without Redis) and closes it with the app.
   */
  bus?: ControlBus;
}

export async function buildApi(options: ApiOptions): Promise<ApiInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.config.apiBodyLimit,
    // The audit log records where a change came from; behind a proxy set trustProxy.
    trustProxy: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const bus =
    options.bus ??
    (await createControlBus({
      redisUrl: options.config.redisUrl,
      prefix: `${options.config.redisPrefix}:bus:`,
      logger: options.logger,
    }));
  if (!options.bus) app.addHook('onClose', () => bus.close());
  const unregisterBusMetric = registerBusSource(() => bus.health().up);
  app.addHook('onClose', async () => unregisterBusMetric());
  app.decorate('services', {
    prisma: options.prisma,
    secretBox: options.secretBox,
    config: options.config,
    audit: new AuditLog(options.prisma),
    bus,
    reviews: new ReviewService(options.prisma, bus, { actor: 'api', logger: options.logger }),
    outbound: new OutboundPolicy(options.config.webhookAllowedNetworks),
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `no route for ${request.method} ${request.url.split('?')[0]}`,
    }),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: 'Warden API', version: '0.1.0', description: 'Control plane of the Warden access gateway.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(inputPlugin);
  await app.register(authPlugin);
  await app.register(jobsPlugin);
  await app.register(reviewJobsPlugin);
  await app.register(observabilityPlugin);
  await app.register(healthRoutes);
  await app.register(consolePlugin);
  await app.register(
    async (api) => {
      await api.register(connectionRoutes, { prefix: '/connections' });
      await api.register(agentRoutes, { prefix: '/agents' });
      await api.register(userRoutes, { prefix: '/users' });
      await api.register(groupRoutes, { prefix: '/groups' });
      await api.register(apiKeyRoutes, { prefix: '/api-keys' });
      await api.register(sshKeyRoutes, { prefix: '/ssh-keys' });
      await api.register(sshHostKeyRoutes, { prefix: '/ssh' });
      await api.register(auditRoutes, { prefix: '/audit' });
      await api.register(policyRoutes, { prefix: '/policies' });
      await api.register(sessionRoutes);
      await api.register(reviewRoutes);
      await api.register(containmentRoutes);
      await api.register(authRoutes, { prefix: '/auth' });
      await api.register(webhookRoutes, { prefix: '/webhooks' });
      await api.register(eventRoutes, { prefix: '/events' });
    },
    { prefix: '/api' },
  );
  return app;
}
