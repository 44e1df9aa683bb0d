import type { RawExecute } from '@warden/db';
import type { EncodedEvent } from '@warden/recording';
import type { Logger } from '@warden/runtime';
import { latency } from '@warden/runtime/metrics';

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

const DEFAULT_FLUSH_INTERVAL_MS = 200;
const DEFAULT_MAX_BATCH = 5000;
const DEFAULT_MAX_BACKLOG_BYTES = 64 * 1024 * 1024;
const INSERT_CHUNKS = `
  INSERT INTO "RecordingChunk" ("sessionId", "firstSeq", "lastSeq", "firstAt", "lastAt", events, "searchText")
  SELECT x.s, x.f, x.l, x.fa, x.la, x.e, x.x
  FROM json_to_recordset($1::json)
    AS x(s uuid, f int, l int, fa timestamp(3), la timestamp(3), e json, x text)`;
const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000, 5000];

/** A queued event and, for statements, the text the search index gets. */
interface Queued {
  encoded: EncodedEvent;
  text: string | undefined;
}

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
export class RecordingWriter {
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
    this.queue.push({ encoded, text: searchText });
    this.backlogBytes += encoded.json.length;
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
    const batch = this.queue;
    this.queue = [];
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
    const rows = chunkRows(batch);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.insert(rows);
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
    const first = batch[0]!.encoded;
    this.logger.error(
      { err, sessionId: first.sessionId, firstSeq: first.seq, lost: batch.length },
      'the database refused these recorded events; they are lost and verify will show the gap',
    );
    this.written(batch);
  }

  private written(batch: Queued[]): void {
    for (const { encoded } of batch) this.backlogBytes -= encoded.json.length;
    if (this.overloaded && this.backlogBytes <= this.maxBacklogBytes / 2) {
      this.overloaded = false;
      this.logger.info({ backlogBytes: this.backlogBytes }, 'recording backlog drained: clients resume');
      for (const resolve of this.relieved.splice(0)) resolve();
    }
  }

  private async insert(rows: string): Promise<void> {
    // Times are ISO strings in UTC; the columns are timestamps without zone holding
    // UTC, as Prisma writes them, and the cast ignores the `Z`.
    const began = performance.now();
    await this.execute(INSERT_CHUNKS, [rows]);
    latency.record.observe((performance.now() - began) / 1000);
  }
}

/** Data exceptions, integrity violations: the statement is wrong for this data, not the database away. */
function isRefusedData(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23)/.test(code);
}

function groupBySession(batch: Queued[]): Map<string, Queued[]> {
  const bySession = new Map<string, Queued[]>();
  for (const queued of batch) {
    const list = bySession.get(queued.encoded.sessionId);
    if (list) list.push(queued);
    else bySession.set(queued.encoded.sessionId, [queued]);
  }
  return bySession;
}

/** The batch as one JSON array of chunk rows, one per session, events in seq order. */
function chunkRows(batch: Queued[]): string {
  const rows: string[] = [];
  for (const [sessionId, events] of groupBySession(batch)) {
    const first = events[0]!.encoded;
    const last = events.at(-1)!.encoded;
    const texts = new Set<string>();
    const parts: string[] = [];
    for (const { encoded, text } of events) {
      if (text !== undefined) texts.add(text);
      parts.push(encoded.json);
    }
    rows.push(
      `{"s":"${sessionId}","f":${first.seq},"l":${last.seq},"fa":"${first.t}","la":"${last.t}","e":[${parts.join(',')}],"x":${JSON.stringify([...texts].join('\n'))}}`,
    );
  }
  return `[${rows.join(',')}]`;
}
