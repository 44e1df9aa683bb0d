import { Redis } from 'ioredis';
import { isTopicMessage, silentLogger, Subscribers, type BusLogger, type ControlBus, type Handler } from './bus.js';
import { TOPICS, TopicSchemas, type Topic, type TopicMessages } from './topics.js';

export const DEFAULT_CHANNEL_PREFIX = 'warden:bus:';

export interface RedisControlBusOptions {
  url: string;
  /** Prepended to topic names to make channel names; tests use a unique one. */
  prefix?: string;
  logger?: BusLogger;
}

/**
 * Redis pub/sub between replicas: one connection publishes, one is subscribed (a subscribed
 * Redis connection can do nothing else). The subscriber listens to every topic from the start,
 * so `subscribe()` only registers a handler and is in effect at once, with no per-call round
 * trip that a message could overtake. ioredis reconnects and re-subscribes by itself; messages
 * published while a replica is disconnected are lost, as pub/sub always loses them (see
 * ControlBus).
 */
export class RedisControlBus implements ControlBus {
  readonly mode = 'redis';
  readonly prefix: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly subscribers: Subscribers;
  private readonly logger: BusLogger;
  private readonly subscribed: Promise<void>;
  private closed = false;

  constructor(options: RedisControlBusOptions) {
    this.prefix = options.prefix ?? DEFAULT_CHANNEL_PREFIX;
    this.logger = options.logger ?? silentLogger;
    this.subscribers = new Subscribers(this.logger);
    // The URL may carry a password: never logged, and ioredis errors do not include it.
    this.publisher = new Redis(options.url, { connectionName: 'warden-bus-pub' });
    this.subscriber = new Redis(options.url, { connectionName: 'warden-bus-sub' });
    for (const [role, connection] of [
      ['publisher', this.publisher],
      ['subscriber', this.subscriber],
    ] as const) {
      // Without a listener an 'error' event would crash the process; ioredis retries on its own.
      connection.on('error', (err: Error) =>
        this.logger.warn({ err: err.message, role }, 'control bus connection error'),
      );
    }
    this.subscriber.on('message', (channel: string, raw: string) => this.receive(channel, raw));
    this.subscribed = this.subscriber.subscribe(...TOPICS.map((t) => this.prefix + t)).then(() => undefined);
    // ready() reports a failure; this keeps it from also being an unhandled rejection.
    this.subscribed.catch(() => {});
  }

  async publish<T extends Topic>(topic: T, message: TopicMessages[T]): Promise<void> {
    if (this.closed) throw new Error('the control bus is closed');
    await this.publisher.publish(this.prefix + topic, JSON.stringify(message));
  }

  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void {
    return this.subscribers.add(topic, handler);
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    if (this.closed) throw new Error('the control bus is closed');
    const set = await this.publisher.set(`${this.prefix}claim:${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return set === 'OK';
  }

  ready(): Promise<void> {
    return this.subscribed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscribers.clear();
    // quit() lets replies in flight arrive; a connection still (re)connecting would never answer it.
    await Promise.allSettled(
      [this.subscriber, this.publisher].map((c) => (c.status === 'ready' ? c.quit() : c.disconnect())),
    );
  }

  private receive(channel: string, raw: string): void {
    if (!channel.startsWith(this.prefix)) return;
    const topic = channel.slice(this.prefix.length);
    if (!Object.hasOwn(TopicSchemas, topic)) return;
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch {
      // The payload is not logged: it came from outside this process and may be anything.
      this.logger.warn({ topic, bytes: raw.length }, 'control bus: dropped a message that is not JSON');
      return;
    }
    if (!isTopicMessage(topic as Topic, message)) {
      this.logger.warn({ topic, bytes: raw.length }, 'control bus: dropped a message of the wrong shape');
      return;
    }
    this.subscribers.deliver(topic as Topic, message);
  }
}
