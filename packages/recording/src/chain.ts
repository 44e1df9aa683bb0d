import * as crypto from 'node:crypto';
import { EventRun } from './event-run.js';
import type { EventDirection, RecordedEvent, UnchainedEvent } from './events.js';

/** The prevHash of a session's first event. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * A number as JSON writes it. For finite numbers String() gives the same digits (both use
 * Number's shortest round-trip form, and both write -0 as 0) without a trip through the JSON
 * serializer; JSON has no form for the others but null.
 */
export function jsonNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/**
 * JSON with object keys sorted at every level, so the same event hashes the same
 * after a round trip through Postgres JSONB (which reorders keys). `undefined`
 * members are left out, as JSON.stringify does. Written with plain loops: it runs
 * for every recorded event on the gateway's hot path.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return jsonNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          const item: unknown = value[i];
          out += item === undefined ? 'null' : canonicalJson(item);
        }
        return out + ']';
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length > 1) keys.sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const member = record[key];
        if (member === undefined) continue;
        if (!first) out += ',';
        first = false;
        out += JSON.stringify(key) + ':' + canonicalJson(member);
      }
      return out + '}';
    }
    default:
      return 'null';
  }
}

/** `{"direction":…,"kind":…,"payload":` by direction and kind, built once each. */
const contentHeads = new Map<string, Map<string, string>>();

function contentHead(direction: string, kind: string): string {
  // Two lookups by the (interned) strings themselves: a combined key would be a new string to
  // hash on every event.
  let byKind = contentHeads.get(direction);
  if (byKind === undefined) contentHeads.set(direction, (byKind = new Map()));
  let head = byKind.get(kind);
  if (head === undefined) {
    head = '{"direction":' + JSON.stringify(direction) + ',"kind":' + JSON.stringify(kind) + ',"payload":';
    // Kinds are a small fixed set; an unexpected flood of new ones is encoded right, just not kept.
    if (byKind.size < 256) byKind.set(kind, head);
  }
  return head;
}

/** `,"sessionId":…,"t":` for a session. */
function sessionPart(sessionId: string): string {
  return ',"sessionId":' + JSON.stringify(sessionId) + ',"t":';
}

/**
 * The canonical form of an event's content (everything but its hashes): the same
 * string canonicalJson() gives for {direction, kind, payload, seq, sessionId, t},
 * built around an already-encoded payload. `sessionJson` is sessionPart(sessionId).
 */
function contentOf(
  direction: string,
  kind: string,
  payloadJson: string,
  seq: number,
  sessionJson: string,
  t: string,
): string {
  return contentHead(direction, kind) + payloadJson + ',"seq":' + String(seq) + sessionJson + JSON.stringify(t) + '}';
}

function eventContent(event: UnchainedEvent, payloadJson: string): string {
  return contentOf(event.direction, event.kind, payloadJson, event.seq, sessionPart(event.sessionId), event.t);
}

/** What an event's hash is taken over: the previous event's hash, a newline, its own content. */
function hashInput(prevHash: string, content: string): string {
  return prevHash + '\n' + content;
}

// One-shot hashing (Node >= 20.12) is several times cheaper than a Hash object per event.
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

function sha256Hex(input: string | Uint8Array): string {
  return oneShot ? oneShot('sha256', input, 'hex') : crypto.createHash('sha256').update(input).digest('hex');
}

function hashContent(prevHash: string, content: string): string {
  return sha256Hex(hashInput(prevHash, content));
}

/** SHA-256 over the previous hash and the event's own content (everything but its hashes). */
export function eventHash(prevHash: string, event: UnchainedEvent): string {
  return hashContent(prevHash, eventContent(event, canonicalJson(event.payload)));
}

/**
 * An event as a writer needs it: its stored form — the canonical content that was
 * hashed, plus `"hash"`, i.e. every field of the event but prevHash (the previous
 * event's hash) — and the few fields a writer indexes on.
 */
export interface EncodedEvent {
  sessionId: string;
  seq: number;
  t: string;
  kind: string;
  json: string;
}

/** The previous hash and a newline, ahead of an event's content in what its hash is taken over. */
const HASH_LINE = GENESIS_HASH.length + 1;

/**
 * Buffer's own encoders, without the argument juggling of write(): half of what writing an
 * event cost went to that (measured). They have been on Buffer.prototype since Node's early
 * days; @types/node does not declare them.
 */
interface WritableBuffer extends Buffer {
  utf8Write(text: string, offset: number): number;
  latin1Write(text: string, offset: number): number;
}

/** Links a session's events as they are produced; one per session, used in seq order. */
export class HashChain {
  private last = GENESIS_HASH;
  private seq = 0;
  private readonly sessionJson: string;
  private single: EventRun | undefined;

  /**
   * `from`: continue a chain already stored up to that event (its seq and hash), as the gateway does
   * when it ends the recording of a session whose own gateway went away (interrupted.ts).
   */
  constructor(
    private readonly sessionId: string,
    from?: { seq: number; hash: string },
  ) {
    this.sessionJson = sessionPart(sessionId);
    if (from) {
      this.seq = from.seq;
      this.last = from.hash;
    }
  }

  /** The next event in the chain, with its seq assigned. */
  append(event: Omit<UnchainedEvent, 'sessionId' | 'seq'>): RecordedEvent {
    const unchained: UnchainedEvent = { ...event, sessionId: this.sessionId, seq: ++this.seq };
    const prevHash = this.last;
    const hash = hashContent(prevHash, eventContent(unchained, canonicalJson(unchained.payload)));
    this.last = hash;
    return { ...unchained, prevHash, hash };
  }

  /**
   * The next event in the chain, from its payload already in canonical JSON (see encodePayload),
   * written in its stored form into `run`; returns its seq. The hash is taken over the bytes where
   * they lie: the previous hash and a newline go first, and the content moves over them once
   * hashed.
   */
  appendTo(run: EventRun, t: string, direction: EventDirection, kind: string, payloadJson: string): number {
    const seq = ++this.seq;
    const input = hashInput(this.last, contentOf(direction, kind, payloadJson, seq, this.sessionJson, t));
    // UTF-8 takes at most 3 bytes per UTF-16 unit; the hash member adds 75.
    const start = run.reserve(3 * input.length + 75);
    const buf = run.buf as WritableBuffer;
    let pos = start + buf.utf8Write(input, start);
    const hash = sha256Hex(buf.subarray(start, pos));
    this.last = hash;
    // Stored: the content without the hash line and its closing brace, then the hash as its last member.
    buf.copyWithin(start, start + HASH_LINE, pos - 1);
    pos -= HASH_LINE + 1;
    pos += buf.latin1Write(',"hash":"' + hash + '"}', pos);
    run.written(pos, seq, t);
    return seq;
  }

  /** appendTo() for a single event, as a string (the gateway's own low-volume recordings: SSH, HTTP). */
  appendEncoded(t: string, direction: EventDirection, kind: string, payloadJson: string): EncodedEvent {
    const run = (this.single ??= new EventRun());
    const seq = this.appendTo(run, t, direction, kind, payloadJson);
    const { bytes } = run.take()!;
    return { sessionId: this.sessionId, seq, t, kind, json: bytes.toString('utf8', 1, bytes.length - 1) };
  }

  get lastHash(): string {
    return this.last;
  }

  get lastSeq(): number {
    return this.seq;
  }
}
