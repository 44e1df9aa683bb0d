import type { ServerResponse } from 'node:http';
import type { ControlBus } from '@warden/control-bus';
import type { PrismaClient } from '@warden/db';
import { onEventStored, orderedEnvelope, type EventEnvelope } from '@warden/events';
import { eventMetrics } from '@warden/runtime/metrics';
import type { JobsLogger } from '../jobs/background-jobs.js';

const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;
const PAGE = 500;
/** Replayed after a Last-Event-ID at most; older gaps are for GET /api/events. */
const MAX_REPLAY = 5000;
/**
 * Sequence numbers are taken at insert but become visible at commit, so a lower one can appear
 * after a higher one. The tail waits this long at a gap before going past it (a gap that stays is
 * a failed insert: sequences are not cached, so that is the only other cause).
 */
const GAP_WAIT_MS = 2000;

interface StoredEvent {
  seq: bigint;
  type: string;
  envelope: EventEnvelope;
}

interface StreamClient {
  res: ServerResponse;
  types: Set<string> | null;
  /** Live events held back while the client's replay runs. */
  buffered: StoredEvent[] | null;
  sentSeq: bigint;
  heartbeat: NodeJS.Timeout;
}

/** `event: <type>`, `id: <event id>`, `data: <envelope JSON>` (one line: JSON has no raw newlines). */
export function sseFrame(event: StoredEvent): string {
  return `event: ${event.type}\nid: ${event.envelope.id}\ndata: ${JSON.stringify(orderedEnvelope(event.envelope))}\n\n`;
}

/**
 * The Server-Sent Events side of the catalog, one per API replica: a single tail of the Event
 * table (by seq, woken by the bus, by events stored in this process, and every second) fans out
 * to every open /api/events/stream. A client that reconnects with Last-Event-ID gets what it
 * missed from the table first, then the live tail, without duplicates.
 */
export class EventStreamHub {
  private readonly clients = new Set<StreamClient>();
  private lastSeq: bigint | null = null;
  private timer: NodeJS.Timeout | undefined;
  private tailing: Promise<void> | null = null;
  private again = false;
  /** When the tail first stopped at the current gap; 0 when there is none. */
  private gapSince = 0;
  private readonly offs: (() => void)[] = [];

  constructor(
    private readonly prisma: PrismaClient,
    private readonly bus: ControlBus,
    private readonly logger: JobsLogger,
  ) {}

  async start(): Promise<void> {
    const [row] = await this.prisma.$queryRaw<{ seq: bigint | null }[]>`SELECT max(seq) AS seq FROM "Event"`;
    this.lastSeq = row?.seq ?? 0n;
    this.offs.push(
      onEventStored(() => this.wake()),
      this.bus.subscribe('event', () => this.wake()),
    );
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const off of this.offs.splice(0)) off();
    for (const client of [...this.clients]) this.drop(client, true);
    await this.tailing;
  }

  /** Serves one stream on `res` until the client goes away. */
  async open(res: ServerResponse, options: { types: string[] | null; lastEventId: string | undefined }): Promise<void> {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 3000\n: warden event stream\n\n`);
    const client: StreamClient = {
      res,
      types: options.types?.length ? new Set(options.types) : null,
      buffered: [],
      sentSeq: this.lastSeq ?? 0n,
      heartbeat: setInterval(() => res.write(`: heartbeat ${new Date().toISOString()}\n\n`), HEARTBEAT_MS),
    };
    this.clients.add(client);
    eventMetrics.streamClients.inc();
    res.on('close', () => this.drop(client, false));
    try {
      if (options.lastEventId) await this.replay(client, options.lastEventId);
    } catch (err) {
      this.logger.warn({ err }, 'could not replay events after Last-Event-ID; streaming live events only');
    }
    const held = client.buffered ?? [];
    client.buffered = null;
    for (const event of held) this.send(client, event);
  }

  private async replay(client: StreamClient, lastEventId: string): Promise<void> {
    if (!/^[0-9a-f-]{36}$/i.test(lastEventId)) return;
    const from = await this.prisma.event.findUnique({ where: { id: lastEventId }, select: { seq: true } });
    if (!from) return;
    const until = client.sentSeq;
    let after = from.seq;
    let sent = 0;
    while (after < until && sent < MAX_REPLAY) {
      const page = await this.prisma.$queryRaw<StoredEvent[]>`
        SELECT seq, type, envelope FROM "Event" WHERE seq > ${after} AND seq <= ${until} ORDER BY seq LIMIT ${PAGE}`;
      if (!page.length) break;
      for (const event of page) {
        if (!client.types || client.types.has(event.type)) client.res.write(sseFrame(event));
        sent += 1;
      }
      after = page.at(-1)!.seq;
    }
  }

  wake(): void {
    if (this.lastSeq === null) return;
    if (this.tailing) {
      this.again = true;
      return;
    }
    this.tailing = this.tail()
      .catch((err: unknown) => this.logger.warn({ err }, 'event stream tail failed; retrying'))
      .finally(() => {
        this.tailing = null;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async tail(): Promise<void> {
    for (;;) {
      const page = await this.prisma.$queryRaw<StoredEvent[]>`
        SELECT seq, type, envelope FROM "Event" WHERE seq > ${this.lastSeq!} ORDER BY seq LIMIT ${PAGE}`;
      for (const event of page) {
        if (event.seq !== this.lastSeq! + 1n) {
          if (this.gapSince === 0) this.gapSince = Date.now();
          // The poll comes back within a second; events after the gap wait for it to fill.
          if (Date.now() - this.gapSince < GAP_WAIT_MS) return;
        }
        this.gapSince = 0;
        this.lastSeq = event.seq;
        for (const client of this.clients) {
          if (client.buffered) client.buffered.push(event);
          else this.send(client, event);
        }
      }
      if (page.length < PAGE) return;
    }
  }

  private send(client: StreamClient, event: StoredEvent): void {
    // At or before where the client's replay (or its start) was: sent already or not wanted.
    if (event.seq <= client.sentSeq) return;
    client.sentSeq = event.seq;
    if (!client.types || client.types.has(event.type)) client.res.write(sseFrame(event));
  }

  private drop(client: StreamClient, end: boolean): void {
    if (!this.clients.delete(client)) return;
    clearInterval(client.heartbeat);
    eventMetrics.streamClients.dec();
    if (end) client.res.end();
  }
}
