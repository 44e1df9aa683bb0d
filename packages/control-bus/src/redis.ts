import { Redis } from 'ioredis';
import {
  ControlBusUnavailableError,
  isTopicMessage,
  silentLogger,
  Subscribers,
  type BusHealth,
  type BusLogger,
  type ControlBus,
  type Handler,
} from './bus.js';
import { TOPICS, TopicSchemas, type Topic, type TopicMessages } from './topics.js';

export const DEFAULT_CHANNEL_PREFIX = 'warden:bus:';
/** Longest a publish, claim or health check waits for Redis. Local Redis answers in ~1 ms (README). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
/** How often both connections are pinged, so a connection that went silent is noticed and reopened. */
export const DEFAULT_HEARTBEAT_MS = 5000;

export interface RedisControlBusOptions {
  url: string;
  /** Prepended to topic names to make channel names; tests use a unique one. */
  prefix?: string;
  logger?: BusLogger;
  /**
   * Longest a publish, claim, PING or QUIT waits for an answer (default 1 s). A connection that
   * stays silent that long is dropped and reopened, so the calls after it fail at once rather
   * than wait again.
   */
  commandTimeoutMs?: number;
  /** How often idle connections are pinged to notice a silently dead one (default 5 s; 0: never). */
  heartbeatMs?: number;
}

type Role = 'publisher' | 'subscriber';

/**
 * Redis pub/sub between replicas: one connection publishes, one is subscribed. The subscriber
 * listens to every topic from the start, so `subscribe()` only registers a handler and is in
 * effect at once, with no per-call round trip that a message could overtake. ioredis reconnects
 * and re-subscribes by itself; messages published while a replica is disconnected are lost, as
 * pub/sub always loses them (see ControlBus).
 *
 * Bounded: nothing waits on a Redis that is gone. While the publishing connection is down,
 * `publish` and `claim` reject at once with {@link ControlBusUnavailableError} (no offline queue,
 * no retries); on a connection that went silent they reject after `commandTimeoutMs` and the
 * connection is reopened. Callers whose state is in the database (kills, blocks, reviews, events)
 * log it and rely on the receivers re-reading the database.
 */
export class RedisControlBus implements ControlBus {
  readonly mode = 'redis';
  readonly prefix: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly subscribers: Subscribers;
  private readonly logger: BusLogger;
  private readonly subscribed: Promise<void>;
  private readonly publisherReady: Promise<void>;
  private readonly timeoutMs: number;
  private readonly heartbeat: NodeJS.Timeout | undefined;
  /** Per connection: whether it was ever ready, whether it is down now, and how many errors this outage. */
  private readonly state: Record<Role, { everReady: boolean; down: boolean; errors: number; since: number }> = {
    publisher: { everReady: false, down: false, errors: 0, since: 0 },
    subscriber: { everReady: false, down: false, errors: 0, since: 0 },
  };
  private closed = false;

  constructor(options: RedisControlBusOptions) {
    this.prefix = options.prefix ?? DEFAULT_CHANNEL_PREFIX;
    this.logger = options.logger ?? silentLogger;
    this.timeoutMs = Math.max(1, options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
    this.subscribers = new Subscribers(this.logger);
    const common = {
      // A connection that does not answer a command within the timeout is destroyed and reopened.
      socketTimeout: this.timeoutMs,
      connectTimeout: Math.max(this.timeoutMs, 2000),
      // Back in at most 2 s once Redis is reachable again (ioredis's default backs off to 5 s).
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
    };
    // The URL may carry a password: never logged, and ioredis errors do not include it.
    this.publisher = new Redis(options.url, {
      ...common,
      connectionName: 'warden-bus-pub',
      commandTimeout: this.timeoutMs,
      // Fail, not queue, while disconnected: a kill or a block must not wait for Redis.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    // The subscriber keeps its queue: its SUBSCRIBE waits for Redis (ready() is bounded by the caller).
    this.subscriber = new Redis(options.url, {
      ...common,
      connectionName: 'warden-bus-sub',
      maxRetriesPerRequest: null,
    });
    for (const [role, connection] of [
      ['publisher', this.publisher],
      ['subscriber', this.subscriber],
    ] as const) {
      // Without a listener an 'error' event would crash the process; ioredis retries on its own.
      connection.on('error', (err: Error) => this.connectionError(role, err));
      connection.on('close', () => this.connectionLost(role));
      connection.on('ready', () => this.connectionReady(role));
    }
    this.subscriber.on('message', (channel: string, raw: string) => this.receive(channel, raw));
    this.subscribed = this.subscriber.subscribe(...TOPICS.map((t) => this.prefix + t)).then(() => undefined);
    this.publisherReady = new Promise((resolve) => this.publisher.once('ready', () => resolve()));
    // ready() reports a failure; this keeps it from also being an unhandled rejection.
    this.subscribed.catch(() => {});
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    if (heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.beat(), heartbeatMs);
      this.heartbeat.unref();
    }
  }

  async publish<T extends Topic>(topic: T, message: TopicMessages[T]): Promise<void> {
    await this.command(`publish ${topic}`, () => this.publisher.publish(this.prefix + topic, JSON.stringify(message)));
  }

  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void {
    return this.subscribers.add(topic, handler);
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const set = await this.command('claim', () =>
      this.publisher.set(`${this.prefix}claim:${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'),
    );
    return set === 'OK';
  }

  ready(): Promise<void> {
    return Promise.all([this.subscribed, this.publisherReady]).then(() => undefined);
  }

  health(): BusHealth {
    if (this.closed) return { up: false, detail: 'closed' };
    const down = (['publisher', 'subscriber'] as const).filter((role) => this.connection(role).status !== 'ready');
    if (!down.length) return { up: true };
    return { up: false, detail: down.map((role) => `${role} ${this.connection(role).status}`).join(', ') };
  }

  async check(): Promise<BusHealth> {
    const now = this.health();
    if (!now.up) return now;
    try {
      await withTimeout(Promise.all([this.publisher.ping(), this.subscriber.ping()]), this.timeoutMs);
      return { up: true };
    } catch {
      return { up: false, detail: `no answer to PING within ${this.timeoutMs} ms` };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.subscribers.clear();
    // quit() lets replies in flight arrive; a connection still (re)connecting, or one that does
    // not answer the QUIT within the timeout, is dropped.
    await Promise.allSettled(
      [this.subscriber, this.publisher].map(async (c) => {
        if (c.status !== 'ready') return c.disconnect();
        try {
          await withTimeout(c.quit(), this.timeoutMs);
        } catch {
          c.disconnect();
        }
      }),
    );
  }

  /**
   * Runs one command on the publishing connection, bounded: at once when the connection is down
   * (after its first connect, which is waited for up to the timeout), within the timeout otherwise.
   */
  private async command<T>(what: string, run: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ControlBusUnavailableError('the control bus is closed');
    if (this.publisher.status !== 'ready') {
      if (this.state.publisher.everReady) throw unavailable(what);
      try {
        await withTimeout(this.publisherReady, this.timeoutMs);
      } catch (err) {
        throw unavailable(what, err);
      }
    }
    try {
      // commandTimeout bounds the command; the outer timer also covers a connection stuck elsewhere.
      return await withTimeout(run(), this.timeoutMs + 100);
    } catch (err) {
      throw unavailable(what, err);
    }
  }

  private connection(role: Role): Redis {
    return role === 'publisher' ? this.publisher : this.subscriber;
  }

  /** PING on idle ready connections: a silent one hits socketTimeout and is reopened. */
  private beat(): void {
    for (const role of ['publisher', 'subscriber'] as const) {
      const c = this.connection(role);
      if (c.status === 'ready') c.ping().catch(() => {});
    }
  }

  private connectionReady(role: Role): void {
    const s = this.state[role];
    if (s.down && !this.closed) {
      this.logger.info?.({ role, downMs: Date.now() - s.since, errors: s.errors }, 'control bus connection restored');
    }
    s.everReady = true;
    s.down = false;
    s.errors = 0;
  }

  private connectionLost(role: Role): void {
    const s = this.state[role];
    if (this.closed || s.down || !s.everReady) return;
    s.down = true;
    s.since = Date.now();
    this.logger.warn(
      { role },
      'control bus connection lost: publishing fails until Redis is back; gateways reconcile kills and blocks from the database',
    );
  }

  private connectionError(role: Role, err: Error): void {
    if (this.closed) return;
    const s = this.state[role];
    s.errors += 1;
    // One line per outage, not one per reconnect attempt.
    if (s.errors === 1) this.logger.warn({ err: err.message, role }, 'control bus connection error');
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

function unavailable(what: string, cause?: unknown): ControlBusUnavailableError {
  return new ControlBusUnavailableError(undefined, { cause, operation: what });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
