import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Principal } from '@warden/access';
import type { ControlBus } from '@warden/control-bus';
import type { PrismaClient } from '@warden/db';
import type { ReviewService } from '@warden/reviews';
import type { SecretBox, WardenConfig } from '@warden/runtime';
import type { AuditLog } from './audit.js';
import type { OutboundPolicy } from './jobs/outbound-http.js';

/** What every route plugin can reach: decorated once in app.ts. */
export interface ApiServices {
  prisma: PrismaClient;
  secretBox: SecretBox;
  config: WardenConfig;
  audit: AuditLog;
  /** Reaches the gateway replicas: review decisions, kills, containment, policy changes. */
  bus: ControlBus;
  /** Review state changes, announced on `bus`. */
  reviews: ReviewService;
  /** Where webhooks and review notifications may send requests (WARDEN_WEBHOOK_ALLOWED_NETWORKS). */
  outbound: OutboundPolicy;
}

/** The Fastify instance type route plugins receive (TypeBox-typed schemas). */
export type ApiInstance = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

declare module 'fastify' {
  interface FastifyInstance {
    services: ApiServices;
  }
  interface FastifyRequest {
    /** Set by the auth plugin on every /api route; routes can rely on it. */
    principal: Principal;
  }
}
