import { EventEmitter } from 'node:events';
import type { ControlBus } from '@warden/control-bus';
import type { Prisma, PrismaClient } from '@warden/db';
import type { EventData, EventType } from './catalog.js';
import { createEnvelope, type EventContext, type EventEnvelope, type NamedRef } from './envelope.js';

/** The parts of a pino logger the publisher uses. */
export interface EventsLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Context where identity/connection may be ids only: the publisher fills in their names. */
export interface EmitContext extends Omit<EventContext, 'identity' | 'connection'> {
  identity?: { id: string; name?: string | null } | null;
  connection?: { id: string; name?: string | null } | null;
}

/**
 * Process-local "an event was stored": lets the API's dispatcher in the same process (the
 * embedded stack, where the gateway and API share one process) act at once without Redis.
 */
const stored = new EventEmitter();
stored.setMaxListeners(0);

export function onEventStored(listener: (event: { id: string; type: EventType }) => void): () => void {
  stored.on('event', listener);
  return () => stored.off('event', listener);
}

const NAME_CACHE_LIMIT = 2000;
const NAME_TTL_MS = 60_000;

/**
 * Emits catalog events from where the facts happen (gateway sessions, the reviews service, the
 * API's audit log): each is inserted into the Event table (the outbox the API dispatches from,
 * so delivery happens once whatever process emitted it), then announced on the control bus so
 * API replicas act at once rather than at their next poll. Emitting never throws: an event that
 * cannot be built or stored is logged, and the session or request that caused it goes on.
 */
export class EventPublisher {
  private bus: ControlBus | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly names = new Map<string, { name: string | null; until: number }>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly options: { bus?: ControlBus | undefined; logger?: EventsLogger } = {},
  ) {
    this.bus = options.bus;
  }

  /** The bus becomes known after construction in the gateway (it is opened in start()). */
  useBus(bus: ControlBus | undefined): void {
    this.bus = bus;
  }

  /** Builds, stores and announces one event; resolves to it, or null when it could not be stored. */
  emit<T extends EventType>(type: T, context: EmitContext, data: EventData<T>): Promise<EventEnvelope<T> | null> {
    const task = this.store(type, context, data).catch((err: unknown) => {
      this.options.logger?.error({ err, eventType: type }, 'could not emit an event');
      return null;
    });
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
    return task;
  }

  /** Waits for the events being stored, e.g. before the database closes. */
  async flush(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private async store<T extends EventType>(
    type: T,
    context: EmitContext,
    data: EventData<T>,
  ): Promise<EventEnvelope<T>> {
    const [identity, connection] = await Promise.all([
      this.named('identity', context.identity),
      this.named('connection', context.connection),
    ]);
    const envelope = createEnvelope(type, { ...context, identity, connection }, data);
    await this.prisma.event.create({
      data: {
        id: envelope.id,
        type: envelope.type,
        version: envelope.version,
        time: new Date(envelope.time),
        identityId: identity?.id ?? null,
        connectionId: connection?.id ?? null,
        sessionId: envelope.session?.id ?? null,
        envelope: envelope as unknown as Prisma.InputJsonValue,
      },
    });
    stored.emit('event', { id: envelope.id, type });
    try {
      await this.bus?.publish('event', { id: envelope.id, type });
    } catch (err) {
      // Stored is what counts: the dispatchers also poll the table.
      this.options.logger?.warn(
        { err, eventType: type },
        'could not announce an event; it is dispatched at the next poll',
      );
    }
    return envelope;
  }

  private async named(
    kind: 'identity' | 'connection',
    ref: { id: string; name?: string | null } | null | undefined,
  ): Promise<NamedRef | null> {
    if (!ref) return null;
    if (ref.name !== undefined && ref.name !== null) return { id: ref.id, name: ref.name };
    const key = `${kind}:${ref.id}`;
    const cached = this.names.get(key);
    if (cached && cached.until > Date.now()) return { id: ref.id, name: cached.name };
    const row =
      kind === 'identity'
        ? await this.prisma.identity.findUnique({ where: { id: ref.id }, select: { name: true } })
        : await this.prisma.connection.findUnique({ where: { id: ref.id }, select: { name: true } });
    if (this.names.size >= NAME_CACHE_LIMIT) this.names.clear();
    this.names.set(key, { name: row?.name ?? null, until: Date.now() + NAME_TTL_MS });
    return { id: ref.id, name: row?.name ?? null };
  }
}
