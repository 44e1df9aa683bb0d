import type { RawExecute } from '@warden/db';
import type { EncodedEvent } from '@warden/recording';
import type { Logger } from '@warden/runtime';
import { latency } from '@warden/runtime/metrics';
import { chunkOf, type PreparedChunk } from './chunks.js';
import type { EventSink } from './session-recorder.js';

export interface RecordingWriterOptions {
  /** How long an event may wait before its batch is written: what a crash can lose. */
  flushIntervalMs?: number;
  /** A batch is written at once when it holds this many events. */
  maxBatch?: number;
  /**
   * Encoded bytes waiting (queued and in flight) above which sessions stop reading their clients
   * until the backlog is back under half of it (see `overloaded`).
   */
  maxBacklogBytes?: number;
}

// Short enough that a batch's events are mostly gone before V8's young generation is swept:
// at 200 ms, pgbench's ~20,000 events/s were promoted to the old generation and grew the
// gateway's heap by ~30 MB between full collections; 100 ms cost ~3% more storage.
const DEFAULT_FLUSH_INTERVAL_MS = 100;
const DEFAULT_MAX_BATCH = 5000;
const DEFAULT_MAX_BACKLOG_BYTES = 64 * 1024 * 1024;
const INSERT_CHUNKS = `INSERT INTO "RecordingChunk" ("sessionId", "firstSeq", "lastSeq", "firstAt", "lastAt", events, "searchText") VALUES `;
/** Columns per chunk row; a statement carries at most MAX_ROWS rows (Postgres allows 65,535 parameters). */
const COLUMNS = 7;
const MAX_ROWS = 1000;
/**
 * Inserts of up to this many rows run as prepared statements, one per row count (see RawExecute):
 * the counts a busy gateway's flushes have (one row per recorded session) are planned once per
 * pooled connection. Larger ones, rare, stay unnamed rather than keep a large plan each.
 */
const MAX_NAMED_ROWS = 64;
const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000, 5000];
/** Sessions remembered as continued elsewhere (see `continuedElsewhere`); the oldest are forgotten past it. */
const MAX_CONTINUED_ELSEWHERE = 10_000;

/** A queued event and, for statements, the text the search index gets. */
interface QueuedEvent {
  encoded: EncodedEvent;
  text: string | undefined;
}

/** What waits to be written: single events (recorded on this thread) or the recording worker's chunks. */
type Queued = QueuedEvent | { chunk: PreparedChunk };

const sessionOf = (q: Queued): string => ('chunk' in q ? q.chunk.sessionId : q.encoded.sessionId);
const bytesOf = (q: Queued): number => ('chunk' in q ? q.chunk.events.length : q.encoded.json.length);

/**
 * Writes every session's recorded events to the control plane in batches, off the
 * hot path: sessions only push to an array. A flush writes one RecordingChunk row
 * per session with events waiting, all in one INSERT whose rows travel as a single
 * JSON parameter, built from the payload JSON the hash chain already encoded. A
 * failed batch is kept and retried with backoff (the database may be restarting);
 * events are not dropped while the gateway runs.
 *
 * Keeping every event must not mean growing without bound: past `maxBacklogBytes` the writer is
 * `overloaded` and sessions pause their clients (whenRelieved) until it is back under half. A
 * database outage then holds clients where they are instead of filling the gateway's memory or
 * letting statements run unrecorded.
 */
export class RecordingWriter implements EventSink {
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private closed = false;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly maxBacklogBytes: number;
  /** Encoded bytes pushed and not yet written (queued plus the batch in flight). */
  private backlogBytes = 0;
  private relieved: (() => void)[] = [];
  /** True from crossing maxBacklogBytes until the backlog is under half of it. */
  overloaded = false;
  /**
   * Sessions whose recording another gateway continued: it took this one for gone (it was out of
   * reach of the database for longer than the presence TTL), stored a session.end at the next seq
   * and sealed the recording as interrupted. Events this gateway still has for them are dropped:
   * stored after that seal, they would break a recording that verifies.
   */
  private readonly continuedElsewhere = new Set<string>();

  constructor(
    private readonly execute: RawExecute,
    private readonly logger: Logger,
    options: RecordingWriterOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
  }

  /** Resolves once the writer is not overloaded (at once when it is not). */
  whenRelieved(): Promise<void> {
    if (!this.overloaded) return Promise.resolve();
    return new Promise((resolve) => this.relieved.push(resolve));
  }

  push(encoded: EncodedEvent, searchText?: string): void {
    this.enqueue({ encoded, text: searchText });
  }

  /** EventSink: the gateway's own recordings (SSH, HTTP) queue their events one by one. */
  readonly append: EventSink['append'] = (chain, t, direction, kind, payloadJson, searchText) => {
    const encoded = chain.appendEncoded(t, direction, kind, payloadJson);
    this.push(encoded, searchText);
    return encoded.seq;
  };

  /** Queues a chunk the recording worker built; it is written with the next batch. */
  pushChunk(chunk: PreparedChunk): void {
    this.enqueue({ chunk });
  }

  private enqueue(queued: Queued): void {
    if (this.continuedElsewhere.size && this.continuedElsewhere.has(sessionOf(queued))) return;
    this.queue.push(queued);
    this.backlogBytes += bytesOf(queued);
    if (!this.overloaded && this.backlogBytes > this.maxBacklogBytes) {
      this.overloaded = true;
      this.logger.warn(
        { backlogBytes: this.backlogBytes },
        'recording backlog is full: pausing clients until it drains',
      );
    }
    if (this.queue.length >= this.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushIntervalMs);
  }

  /** Resolves once every event pushed before the call is in the database. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // Batches go out one at a time, in order: a session's chunks land in seq order.
    while (this.writing) await this.writing;
    if (this.queue.length === 0) return;
    let batch = this.queue;
    this.queue = [];
    if (this.continuedElsewhere.size) {
      const dropped = batch.filter((q) => this.continuedElsewhere.has(sessionOf(q)));
      if (dropped.length) {
        this.written(dropped);
        batch = batch.filter((q) => !this.continuedElsewhere.has(sessionOf(q)));
        if (batch.length === 0) return;
      }
    }
    this.writing = this.writeWithRetry(batch).finally(() => {
      this.writing = null;
    });
    await this.writing;
    if (this.queue.length >= this.maxBatch) await this.flush();
  }

  /** Writes what is queued; on shutdown a failing database is retried a few times only. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private async writeWithRetry(batch: Queued[]): Promise<void> {
    const bySession = groupBySession(batch);
    const parts = rowLimited(bySession);
    if (parts.length > 1) {
      // One statement per MAX_ROWS chunk rows, each retried on its own: a statement is all or nothing.
      for (const part of parts) await this.writeWithRetry(part);
      return;
    }
    const params = chunkParams(bySession);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.insert(params);
        this.written(batch);
        return;
      } catch (err) {
        if (isRefusedData(err)) return this.writeRefused(batch, err);
        const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!;
        this.logger.error({ err, events: batch.length, attempt }, 'could not write recorded events; retrying');
        if (this.closed && attempt >= 3) {
          this.logger.error({ lost: batch.length }, 'recorded events could not be written before shutdown');
          this.written(batch);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * The database refused the batch's content (not its availability): retrying it would stall every
   * session's recording behind it. Each session's events are written on their own, so only the
   * session whose events cannot be stored loses them; its chain then shows the gap to `verify`.
   */
  private async writeRefused(batch: Queued[], err: unknown): Promise<void> {
    const bySession = groupBySession(batch);
    if (bySession.size > 1) {
      for (const events of bySession.values()) await this.writeWithRetry(events);
      return;
    }
    const first = batch[0]!;
    const firstSeq = 'chunk' in first ? first.chunk.firstSeq : first.encoded.seq;
    // Unique (sessionId, firstSeq): another gateway stored the session's end at this seq.
    if ((err as { code?: unknown }).code === '23505') {
      this.continueElsewhere(sessionOf(first));
      this.logger.warn(
        { sessionId: sessionOf(first), firstSeq, dropped: batch.length },
        'another gateway ended this session and sealed its recording while this one was out of reach; its events here are dropped',
      );
      this.written(batch);
      return;
    }
    this.logger.error(
      { err, sessionId: sessionOf(first), firstSeq, lost: batch.length },
      'the database refused these recorded events; they are lost and verify will show the gap',
    );
    this.written(batch);
  }

  private continueElsewhere(sessionId: string): void {
    if (this.continuedElsewhere.size >= MAX_CONTINUED_ELSEWHERE) {
      this.continuedElsewhere.delete(this.continuedElsewhere.values().next().value!);
    }
    this.continuedElsewhere.add(sessionId);
  }

  private written(batch: Queued[]): void {
    for (const queued of batch) this.backlogBytes -= bytesOf(queued);
    if (this.overloaded && this.backlogBytes <= this.maxBacklogBytes / 2) {
      this.overloaded = false;
      this.logger.info({ backlogBytes: this.backlogBytes }, 'recording backlog drained: clients resume');
      for (const resolve of this.relieved.splice(0)) resolve();
    }
  }

  private async insert(params: (string | number | Buffer)[]): Promise<void> {
    // Times are ISO strings in UTC; the columns are timestamps without zone holding
    // UTC, as Prisma writes them, and the input ignores the `Z`.
    const began = performance.now();
    const rows = params.length / COLUMNS;
    await this.execute(
      insertStatement(rows),
      params,
      rows <= MAX_NAMED_ROWS ? `warden_recording_chunks_${rows}` : undefined,
    );
    latency.record.observe((performance.now() - began) / 1000);
  }
}

/** Data exceptions, integrity violations: the statement is wrong for this data, not the database away. */
function isRefusedData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23)/.test(code);
}

/**
 * The batch cut into parts of at most MAX_ROWS chunk rows (each worker chunk is a row; a
 * session's events recorded on this thread make one more), sessions in order.
 */
function rowLimited(bySession: Map<string, Queued[]>): Queued[][] {
  const parts: Queued[][] = [[]];
  let rows = 0;
  for (const queued of bySession.values()) {
    let eventsRow = false;
    for (const q of queued) {
      const newRow = 'chunk' in q || !eventsRow;
      if (newRow && rows === MAX_ROWS) {
        parts.push([]);
        rows = 0;
        eventsRow = false;
      }
      if (newRow) rows++;
      if (!('chunk' in q)) eventsRow = true;
      parts.at(-1)!.push(q);
    }
  }
  return parts;
}

function groupBySession(batch: Queued[]): Map<string, Queued[]> {
  const bySession = new Map<string, Queued[]>();
  for (const queued of batch) {
    const sessionId = sessionOf(queued);
    const list = bySession.get(sessionId);
    if (list) list.push(queued);
    else bySession.set(sessionId, [queued]);
  }
  return bySession;
}

const statements = new Map<number, string>();

/** INSERT … VALUES ($1, …, $7), ($8, …) for `rows` chunk rows (the few distinct counts are kept). */
function insertStatement(rows: number): string {
  let sql = statements.get(rows);
  if (!sql) {
    const tuples: string[] = [];
    for (let r = 0; r < rows; r++) {
      const p = r * COLUMNS;
      tuples.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7})`);
    }
    sql = INSERT_CHUNKS + tuples.join(', ');
    if (statements.size < 256) statements.set(rows, sql);
  }
  return sql;
}

/**
 * Chunk rows as plain text parameters: per session, the worker's chunks as they are and one more
 * for the events recorded on this thread. Postgres stores each column straight from its parameter:
 * the events array is the JSON the hash chain already encoded, joined, kept as text (unpacking all
 * rows from one JSON parameter with json_to_recordset cost Postgres ~4.5 µs more per event,
 * measured).
 */
function chunkParams(bySession: Map<string, Queued[]>): (string | number | Buffer)[] {
  const params: (string | number | Buffer)[] = [];
  const add = (c: PreparedChunk) =>
    params.push(c.sessionId, c.firstSeq, c.lastSeq, c.firstAt, c.lastAt, c.events, c.searchText);
  for (const queued of bySession.values()) {
    const events: EncodedEvent[] = [];
    const texts = new Set<string>();
    for (const q of queued) {
      if ('chunk' in q) add(q.chunk);
      else {
        events.push(q.encoded);
        if (q.text !== undefined) texts.add(q.text);
      }
    }
    if (events.length) add(chunkOf(events, texts));
  }
  return params;
}
