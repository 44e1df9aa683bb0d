import { Value } from 'typebox/value';
import { TopicSchemas, type Topic, type TopicMessages } from './topics.js';

export type Handler<T extends Topic> = (message: TopicMessages[T]) => void;

/**
 * Fire-and-forget delivery of control messages to every subscriber in every process sharing the
 * bus, including the publisher's own. Nothing is stored: a process that is down misses messages,
 * so state lives in the database and messages only say "look now" (a receiver re-reads what it
 * needs, or acts on what is unambiguous like a kill).
 */
export interface ControlBus {
  readonly mode: 'redis' | 'in-process';
  publish<T extends Topic>(topic: T, message: TopicMessages[T]): Promise<void>;
  /**
   * Calls `handler` for every later message on `topic` (once {@link ControlBus.ready} resolved,
   * for a Redis bus); returns the function that unsubscribes. A throwing handler is logged and
   * does not affect the others.
   */
  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void;
  /**
   * True for exactly one caller per `key` among every process sharing the bus, for `ttlMs`: lets
   * one replica act on a message every replica receives (e.g. enqueue one notification per
   * review.created) without a queue of its own.
   */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Resolves once messages published from now on are delivered to this bus's subscribers. */
  ready(): Promise<void>;
  /** Whether the bus is connected now, from the connections' state (no round trip). */
  health(): BusHealth;
  /** Whether the bus answers now: a round trip on each connection, bounded (readiness probes). */
  check(): Promise<BusHealth>;
  close(): Promise<void>;
}

export interface BusHealth {
  up: boolean;
  /** Why not, when down: which connection and its state (never the Redis address). */
  detail?: string;
}

/**
 * `publish` or `claim` could not reach the bus (Redis down, not answering, or the bus closed). It
 * comes at once, or after the bus's command timeout, never after a long wait. `statusCode` lets an
 * HTTP layer answer 503.
 */
export class ControlBusUnavailableError extends Error {
  override name = 'ControlBusUnavailableError';
  readonly statusCode = 503;
  readonly code = 'WARDEN_CONTROL_BUS_UNAVAILABLE';
  /** What was attempted, e.g. `publish session.kill` (for logs). */
  readonly operation: string | undefined;

  constructor(
    message = 'the control bus (Redis) is unreachable; try again once it is back',
    options: { cause?: unknown; operation?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.operation = options.operation;
  }
}

/** The parts of a pino logger the bus uses. */
export interface BusLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
}

export const silentLogger: BusLogger = { warn() {}, error() {} };

/** Handlers per topic, shared by both implementations. */
export class Subscribers {
  private readonly handlers = new Map<Topic, Set<Handler<never>>>();

  constructor(private readonly logger: BusLogger) {}

  add<T extends Topic>(topic: T, handler: Handler<T>): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    // Wrapped so the same function subscribed twice is two subscriptions, each removable once.
    const entry: Handler<never> = (m) => handler(m as TopicMessages[T]);
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  deliver(topic: Topic, message: unknown): void {
    const set = this.handlers.get(topic);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(message as never);
      } catch (err) {
        this.logger.error({ err, topic }, 'control bus handler failed');
      }
    }
  }

  clear(): void {
    this.handlers.clear();
  }
}

/** Whether `message` has the shape of `topic`'s messages. */
export function isTopicMessage<T extends Topic>(topic: T, message: unknown): message is TopicMessages[T] {
  return Value.Check(TopicSchemas[topic], message);
}
