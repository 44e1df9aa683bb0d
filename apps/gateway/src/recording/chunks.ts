import { EventRun, type EncodedEvent } from '@warden/recording';
import type { EventSink } from './session-recorder.js';
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

/** Collects one session's events into chunks: what the recording worker keeps per session. */
export class ChunkBuilder implements EventSink {
  private readonly run = new EventRun();
  private texts = new Set<string>();

  constructor(private readonly sessionId: string) {}

  get size(): number {
    return this.run.size;
  }

  /** Links an event into `chain`, written straight into the chunk's bytes; returns its seq. */
  readonly append: EventSink['append'] = (chain, t, direction, kind, payloadJson, searchText) => {
    if (searchText !== undefined) this.texts.add(searchText);
    return chain.appendTo(this.run, t, direction, kind, payloadJson);
  };

  /** Nothing to wait for here: RecordingOffload.flush() waits for the chunks to be written. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The events appended since the last take(), as one chunk (undefined when there are none), its
   * events as bytes in a buffer of their own: a chunk goes to the gateway's thread in a
   * transferred buffer and is written from it as is. As a string it was copied into the gateway's
   * heap on arrival (large-object space, freed only by full collections) and encoded to UTF-8
   * again for the insert.
   */
  take(): PreparedChunk | undefined {
    const run = this.run.take();
    if (!run) return undefined;
    const searchText = searchWords(this.texts);
    this.texts = new Set();
    return {
      sessionId: this.sessionId,
      firstSeq: run.firstSeq,
      lastSeq: run.lastSeq,
      firstAt: run.firstAt,
      lastAt: run.lastAt,
      events: run.bytes,
      searchText,
    };
  }
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
