import {
  encodePayload,
  HashChain,
  type EventDirection,
  type EventPayloads,
  type KnownEventKind,
  type RecordingSeal,
  type RecordingSigner,
  type SessionEndPayload,
} from '@warden/recording';
import type { RecordingWriter } from './recording-writer.js';

let lastMs = -1;
let lastIso = '';
let lastSecond = -1;
let secondPrefix = '';
/** '000Z' … '999Z': the millisecond part of an ISO timestamp. */
const MILLIS = Array.from({ length: 1000 }, (_, ms) => String(ms).padStart(3, '0') + 'Z');

/**
 * The current time as ISO-8601 with milliseconds (what toISOString gives): the part up to the
 * second is formatted once a second, the milliseconds looked up, and the result kept for the
 * millisecond. Every recorded event takes a timestamp, and toISOString for each new millisecond
 * cost ~1 µs per statement under load.
 */
function isoNow(): string {
  const ms = Date.now();
  if (ms === lastMs) return lastIso;
  lastMs = ms;
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  lastIso = secondPrefix + MILLIS[ms - second * 1000]!;
  return lastIso;
}

/** Event kinds whose `payload.text` is a statement, indexed for full-text search. */
const SEARCHABLE = new Set(['query', 'prepare', 'execute', 'ssh.exec']);

/**
 * One session's recording: assigns each event its seq and time, links it into the
 * hash chain and hands it to the shared writer. At the end it records the session's
 * end, waits for its events to be in the database and seals the chain.
 */
export class SessionRecorder {
  private readonly chain: HashChain;
  private ended = false;

  constructor(
    readonly sessionId: string,
    private readonly writer: RecordingWriter,
    private readonly signer: RecordingSigner,
  ) {
    this.chain = new HashChain(sessionId);
  }

  /** Records an event and returns its seq (results refer to their statement by it). */
  record<K extends KnownEventKind>(direction: EventDirection, kind: K, payload: EventPayloads[K]): number {
    if (this.ended) return 0;
    const encoded = this.chain.appendEncoded(isoNow(), direction, kind, encodePayload(kind, payload));
    this.writer.push(encoded, SEARCHABLE.has(kind) ? (payload as { text?: string }).text : undefined);
    return encoded.seq;
  }

  /** Records the end, flushes and returns the seal for the session row. */
  async end(payload: SessionEndPayload): Promise<RecordingSeal> {
    if (!this.ended) {
      this.record('gateway', 'session.end', payload);
      this.ended = true;
    }
    await this.writer.flush();
    return this.signer.seal(this.sessionId, this.chain.lastSeq, this.chain.lastHash);
  }
}
