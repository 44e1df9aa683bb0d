import {
  ControlBusUnavailableError,
  silentLogger,
  Subscribers,
  type BusHealth,
  type BusLogger,
  type ControlBus,
  type Handler,
} from './bus.js';
import type { Topic, TopicMessages } from './topics.js';

/**
 * The bus of the embedded mode (API and gateway in one process, no Redis). Delivery is
 * asynchronous like Redis's, so a handler never runs inside its publisher's call stack (a handler
 * that publishes, or a publisher holding a lock, behaves the same in both modes), and messages
 * travel through JSON as they would across processes (no shared object with the publisher).
 */
export class InProcessControlBus implements ControlBus {
  readonly mode = 'in-process';
  private readonly subscribers: Subscribers;
  private readonly claims = new Map<string, number>();
  private closed = false;

  constructor(logger: BusLogger = silentLogger) {
    this.subscribers = new Subscribers(logger);
  }

  async publish<T extends Topic>(topic: T, message: TopicMessages[T]): Promise<void> {
    if (this.closed) throw new ControlBusUnavailableError('the control bus is closed');
    const json = JSON.stringify(message);
    queueMicrotask(() => {
      if (!this.closed) this.subscribers.deliver(topic, JSON.parse(json));
    });
  }

  subscribe<T extends Topic>(topic: T, handler: Handler<T>): () => void {
    return this.subscribers.add(topic, handler);
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const until = this.claims.get(key);
    if (until !== undefined && until > now) return false;
    // Expired claims go when the map grows, so a long-lived process does not keep every key.
    if (this.claims.size >= 10_000) for (const [k, t] of this.claims) if (t <= now) this.claims.delete(k);
    this.claims.set(key, now + ttlMs);
    return true;
  }

  async ready(): Promise<void> {}

  health(): BusHealth {
    return this.closed ? { up: false, detail: 'closed' } : { up: true };
  }

  async check(): Promise<BusHealth> {
    return this.health();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscribers.clear();
  }
}
