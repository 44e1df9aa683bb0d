import type { PrismaClient } from '@warden/db';
import type { RecordedEvent } from '@warden/recording';
import type { Logger } from '@warden/runtime';

export interface RecordingWriterOptions {
  /** How long an event may wait before its batch is written: what a crash can lose. */
  flushIntervalMs?: number;
  /** A batch is written at once when it reaches this many events. */
  maxBatch?: number;
}

const DEFAULT_FLUSH_INTERVAL_MS = 100;
const DEFAULT_MAX_BATCH = 2000;
const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000, 5000];

/**
 * Writes every session's recorded events to the control plane in batches, off the
 * hot path: sessions only push to an array. One INSERT per batch, whose rows travel
 * as a single JSON parameter (`jsonb_to_recordset`), so a batch costs one round
 * trip and one JSON encode however many events it holds. A failed batch is kept and
 * retried with backoff (the database may be restarting); events are never dropped.
 */
export class RecordingWriter {
  private queue: RecordedEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private closed = false;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  /** Events written since start, for tests and metrics. */
  written = 0;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
    options: RecordingWriterOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
  }

  /** Events accepted but not yet in the database. */
  get backlog(): number {
    return this.queue.length;
  }

  push(event: RecordedEvent): void {
    this.queue.push(event);
    if (this.queue.length >= this.maxBatch) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushIntervalMs);
  }

  /** Resolves once every event pushed before the call is in the database. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // Batches go out one at a time, in order: a session's events land in seq order.
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

  /** Writes what is queued and stops the timer; later pushes are still written by flush(). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private async writeWithRetry(batch: RecordedEvent[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        for (let i = 0; i < batch.length; i += this.maxBatch) await this.insert(batch.slice(i, i + this.maxBatch));
        this.written += batch.length;
        return;
      } catch (err) {
        const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!;
        this.logger.error({ err, events: batch.length, attempt }, 'could not write recorded events; retrying');
        // On shutdown, give up after a few tries rather than hanging the exit forever.
        if (this.closed && attempt >= 3) {
          this.logger.error({ lost: batch.length }, 'recorded events could not be written before shutdown');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private async insert(batch: RecordedEvent[]): Promise<void> {
    const rows = JSON.stringify(
      batch.map((e) => ({
        s: e.sessionId,
        q: e.seq,
        t: e.t,
        d: e.direction,
        k: e.kind,
        p: e.payload,
        ph: e.prevHash,
        h: e.hash,
      })),
    );
    // `t` is an ISO time in UTC; the column is a timestamp without zone holding UTC,
    // as Prisma writes it, and the cast ignores the `Z`.
    await this.prisma.$executeRaw`
      INSERT INTO "RecordingEvent" ("sessionId", seq, t, direction, kind, payload, "prevHash", hash)
      SELECT x.s, x.q, x.t, x.d, x.k, x.p, x.ph, x.h
      FROM jsonb_to_recordset(${rows}::jsonb)
        AS x(s uuid, q int, t timestamp(3), d text, k text, p jsonb, ph text, h text)`;
  }
}
