import { StoredEventBytes, type EncodedEvent, type EventDirection, type HashChain } from '@warden/recording';
import { searchWords } from './search-words.js';

/**
 * One RecordingChunk row, ready to insert: a run of one session's events in seq order. The
 * events column is the JSON the hash chain already encoded, joined, stored as text; the search
 * text is the statements' distinct words (see searchWords).
 */
export interface PreparedChunk {
  sessionId: string;
  firstSeq: number;
  lastSeq: number;
  firstAt: string;
  lastAt: string;
  /**
   * The events as JSON text: a string when built on the gateway's thread, UTF-8 bytes in a buffer
   * of their own when built by the recording worker (transferred, not copied, to the writer).
   */
  events: string | Buffer;
  searchText: string;
}

/**
 * Collects one session's events into chunks, as the recording worker keeps them: the hash chain
 * writes each event straight into the chunk's bytes (HashChain.appendInto), which go to the
 * writer in a buffer of their own, transferred rather than copied, and are inserted as they are.
 */
export class ChunkBuilder {
  private readonly bytes = new StoredEventBytes();
  private texts = new Set<string>();
  private firstSeq = 0;
  private lastSeq = 0;
  private firstAt = '';
  private lastAt = '';

  get size(): number {
    return this.bytes.count;
  }

  /** Chains the next event into the chunk (see ByteEventSink); returns its seq. */
  append(
    chain: HashChain,
    t: string,
    direction: EventDirection,
    kind: string,
    payloadJson: string,
    searchText: string | undefined,
  ): number {
    const seq = chain.appendInto(this.bytes, t, direction, kind, payloadJson);
    if (this.bytes.count === 1) {
      this.firstSeq = seq;
      this.firstAt = t;
    }
    this.lastSeq = seq;
    this.lastAt = t;
    if (searchText !== undefined) this.texts.add(searchText);
    return seq;
  }

  /** The events appended since the last take(), as one chunk (undefined when there are none). */
  take(): PreparedChunk | undefined {
    if (this.bytes.count === 0) return undefined;
    const chunk: PreparedChunk = {
      sessionId: this.sessionId,
      firstSeq: this.firstSeq,
      lastSeq: this.lastSeq,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
      events: this.bytes.take(),
      searchText: searchWords(this.texts),
    };
    this.texts = new Set();
    return chunk;
  }

  constructor(private readonly sessionId: string) {}
}

/** A chunk of `events` (one session's, in seq order) whose statements are `texts`. */
export function chunkOf(events: readonly EncodedEvent[], texts: Iterable<string>): PreparedChunk {
  const first = events[0]!;
  const last = events.at(-1)!;
  const parts: string[] = [];
  for (const encoded of events) parts.push(encoded.json);
  return {
    sessionId: first.sessionId,
    firstSeq: first.seq,
    lastSeq: last.seq,
    firstAt: first.t,
    lastAt: last.t,
    events: `[${parts.join(',')}]`,
    searchText: searchWords(texts),
  };
}
