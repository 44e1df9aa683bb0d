import { createHash } from 'node:crypto';
import type { RecordedEvent, UnchainedEvent } from './events.js';

/** The prevHash of a session's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * JSON with object keys sorted at every level, so the same event hashes the same
 * after a round trip through Postgres JSONB (which reorders keys).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // undefined inside objects is dropped by the caller; at top level it has no JSON form.
    return JSON.stringify(value ?? null);
  }
  if (Array.isArray(value)) return '[' + value.map((v) => canonicalJson(v === undefined ? null : v)).join(',') + ']';
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return '{' + entries.map(([k, v]) => JSON.stringify(k) + ':' + canonicalJson(v)).join(',') + '}';
}

/** SHA-256 over the previous hash and the event's own content (everything but its hashes). */
export function eventHash(prevHash: string, event: UnchainedEvent): string {
  const content = canonicalJson({
    sessionId: event.sessionId,
    seq: event.seq,
    t: event.t,
    direction: event.direction,
    kind: event.kind,
    payload: event.payload,
  });
  return createHash('sha256').update(prevHash).update('\n').update(content).digest('hex');
}

/** Links a session's events as they are produced; one per session, used in seq order. */
export class HashChain {
  private last = GENESIS_HASH;
  private seq = 0;

  constructor(private readonly sessionId: string) {}

  /** The next event in the chain, with its seq assigned. */
  append(event: Omit<UnchainedEvent, 'sessionId' | 'seq'>): RecordedEvent {
    const unchained: UnchainedEvent = { ...event, sessionId: this.sessionId, seq: ++this.seq };
    const prevHash = this.last;
    const hash = eventHash(prevHash, unchained);
    this.last = hash;
    return { ...unchained, prevHash, hash };
  }

  get lastHash(): string {
    return this.last;
  }

  get lastSeq(): number {
    return this.seq;
  }
}
