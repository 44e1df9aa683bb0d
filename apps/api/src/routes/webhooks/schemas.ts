import { Type } from 'typebox';
import { Id, Name, Nullable, Timestamp } from '../../schemas.js';

const Url = Type.String({
  minLength: 8,
  maxLength: 2000,
  pattern: '^https?://',
  description: 'http(s) URL the events are POSTed to',
});
const EventTypes = Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
  maxItems: 50,
  description: 'catalog event types delivered (docs/events.md); empty or absent = all',
});
const Secret = Type.String({
  minLength: 16,
  maxLength: 500,
  description: 'HMAC-SHA256 signing secret (write-only); generated and returned once when absent on create',
});

export const WebhookBody = Type.Object(
  {
    name: Name,
    url: Url,
    events: Type.Optional(EventTypes),
    secret: Type.Optional(Secret),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const WebhookPatch = Type.Object(
  {
    name: Type.Optional(Name),
    url: Type.Optional(Url),
    events: Type.Optional(EventTypes),
    secret: Type.Optional(Secret),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const Webhook = Type.Object({
  id: Id,
  name: Type.String(),
  url: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

/** The create answer: the generated secret appears here once, never again. */
export const CreatedWebhook = Type.Intersect([Webhook, Type.Object({ secret: Type.Optional(Type.String()) })]);

export const DeliveryStatus = Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]);

export const Delivery = Type.Object({
  id: Id,
  subscriptionId: Id,
  eventId: Id,
  eventType: Type.String(),
  status: Type.String(),
  attempts: Type.Integer(),
  lastStatus: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  deliveredAt: Nullable(Timestamp),
});

export const DeliveryQuery = Type.Object({
  status: Type.Optional(DeliveryStatus),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});

export const DeliveryList = Type.Object({ deliveries: Type.Array(Delivery), total: Type.Integer() });
