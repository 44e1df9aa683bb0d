export { EventCatalog, EVENT_TYPES, isEventType, type EventData, type EventType } from './catalog.js';
export {
  createEnvelope,
  orderedEnvelope,
  InvalidEventError,
  type EventContext,
  type EventEnvelope,
  type NamedRef,
  type SessionRef,
} from './envelope.js';
export { assertNoSecrets, SecretInEventError } from './guard.js';
export { EventPublisher, onEventStored, type EmitContext, type EventsLogger } from './publisher.js';
export { signWebhook, verifyWebhook, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from './signature.js';
