import { randomUUID } from 'node:crypto';
import { Value } from 'typebox/value';
import { EventCatalog, type EventData, type EventType } from './catalog.js';
import { assertNoSecrets } from './guard.js';

/** Who or what an event is about; names are resolved by the publisher when only ids are known. */
export interface NamedRef {
  id: string;
  name: string | null;
}

export interface SessionRef {
  id: string;
}

/**
 * What every event looks like on every channel (webhook body, SSE data, JSON lines, the list):
 * a stable id (UUID, also the SSE id), the catalog type and its version, when it happened (ISO
 * 8601, UTC), who (identity), where (connection) and in which session, then the type's data.
 */
export interface EventEnvelope<T extends EventType = EventType> {
  id: string;
  type: T;
  version: number;
  time: string;
  identity: NamedRef | null;
  connection: NamedRef | null;
  session: SessionRef | null;
  data: EventData<T>;
}

export interface EventContext {
  identity?: NamedRef | null;
  connection?: NamedRef | null;
  session?: SessionRef | null;
  /** Defaults to now. */
  time?: Date;
}

export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}

/** Builds and checks an envelope: the data must match the catalog schema and carry no secret. */
export function createEnvelope<T extends EventType>(
  type: T,
  context: EventContext,
  data: EventData<T>,
): EventEnvelope<T> {
  const entry = EventCatalog[type];
  if (!entry) throw new InvalidEventError(`unknown event type "${type}"`);
  if (!Value.Check(entry.data, data)) {
    const first = [...Value.Errors(entry.data, data)][0];
    throw new InvalidEventError(
      `${type}: data does not match the catalog${first ? ` (${first.instancePath || '/'} ${first.message})` : ''}`,
    );
  }
  assertNoSecrets(data);
  return {
    id: randomUUID(),
    type,
    version: entry.version,
    time: (context.time ?? new Date()).toISOString(),
    identity: context.identity ?? null,
    connection: context.connection ?? null,
    session: context.session ?? null,
    data,
  };
}

/**
 * The envelope with its fields in the documented order. Stored as jsonb, an envelope comes back
 * with its keys reordered; readers of webhook bodies and JSON lines get the documented order.
 */
export function orderedEnvelope(stored: unknown): EventEnvelope {
  const e = stored as EventEnvelope;
  return {
    id: e.id,
    type: e.type,
    version: e.version,
    time: e.time,
    identity: e.identity,
    connection: e.connection,
    session: e.session,
    data: e.data,
  };
}
