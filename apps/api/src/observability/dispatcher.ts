import type { ControlBus } from '@warden/control-bus';
import type { PrismaClient } from '@warden/db';
import { onEventStored, orderedEnvelope, type EventEnvelope } from '@warden/events';
import { eventMetrics } from '@warden/runtime/metrics';
import type { JobsLogger } from '../jobs/background-jobs.js';
import type { EventLog } from './event-log.js';

/** Events claimed per transaction. */
const BATCH = 200;
/** The fallback when a bus message was missed (Redis down, another process's event without a bus). */
const POLL_MS = 1000;
/** Deliveries pending this long without a try were queued by a replica that died before queueing them. */
const ORPHAN_AFTER_MS = 5 * 60_000;

interface ClaimedEvent {
  seq: bigint;
  id: string;
  type: string;
  envelope: EventEnvelope;
}

export interface DispatcherDeps {
  prisma: PrismaClient;
  bus: ControlBus;
  log: EventLog;
  /** Queues a delivery job with the delivery id as job id. */
  queue(deliveryId: string): Promise<void>;
  logger: JobsLogger;
  /** Told of every dispatched event (the SSE streams of this replica listen here). */
  onDispatched?(seq: bigint): void;
}

/**
 * The outbox reader: producers (gateway, API, reviews) insert into Event; every API replica runs
 * this loop, and `FOR UPDATE SKIP LOCKED` gives each undispatched event to exactly one of them.
 * In the same transaction it creates the event's webhook deliveries (unique per subscription and
 * event) and marks the event dispatched; after commit it queues each delivery's job (job id =
 * delivery id) and writes the JSON line. A replica dying between commit and queueing leaves
 * deliveries pending with no job: the orphan sweep queues those again.
 */
export class EventDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private lastOrphanSweep = 0;
  private readonly offs: (() => void)[] = [];

  constructor(private readonly deps: DispatcherDeps) {}

  start(): void {
    this.offs.push(
      onEventStored(() => this.kick()),
      this.deps.bus.subscribe('event', () => this.kick()),
    );
    this.timer = setInterval(() => this.kick(), POLL_MS);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const off of this.offs.splice(0)) off();
    await this.running;
  }

  /** Runs a dispatch pass now, or once more after the one in progress. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: unknown) => this.deps.logger.error({ err }, 'event dispatch failed; retrying at the next poll'))
      .finally(() => {
        this.running = null;
        if (this.again && !this.stopped) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async drain(): Promise<void> {
    while (!this.stopped && (await this.dispatchBatch()) === BATCH);
    if (Date.now() - this.lastOrphanSweep > ORPHAN_AFTER_MS / 5) {
      this.lastOrphanSweep = Date.now();
      await this.requeueOrphans();
    }
  }

  /** Claims a batch, creates its deliveries, marks it dispatched; returns how many it claimed. */
  async dispatchBatch(): Promise<number> {
    const { prisma } = this.deps;
    const result = await prisma.$transaction(
      async (tx) => {
        const events = await tx.$queryRaw<ClaimedEvent[]>`
          SELECT seq, id::text AS id, type, envelope FROM "Event"
          WHERE "dispatchedAt" IS NULL
          ORDER BY seq
          LIMIT ${BATCH}
          FOR UPDATE SKIP LOCKED`;
        if (!events.length) return { events, deliveries: [] as string[] };
        const subscriptions = await tx.webhookSubscription.findMany({
          where: { enabled: true },
          select: { id: true, events: true },
        });
        const pairs: { subscriptionId: string; eventId: string; eventType: string }[] = [];
        for (const event of events)
          for (const s of subscriptions)
            if (s.events.length === 0 || s.events.includes(event.type))
              pairs.push({ subscriptionId: s.id, eventId: event.id, eventType: event.type });
        let deliveries: string[] = [];
        if (pairs.length) {
          const rows = await tx.$queryRaw<{ id: string }[]>`
            INSERT INTO "WebhookDelivery" (id, "subscriptionId", "eventId", "eventType", status, "updatedAt")
            SELECT gen_random_uuid(), p."subscriptionId"::uuid, p."eventId"::uuid, p."eventType", 'pending', now()
            FROM jsonb_to_recordset(${JSON.stringify(pairs)}::jsonb)
              AS p("subscriptionId" text, "eventId" text, "eventType" text)
            ON CONFLICT ("subscriptionId", "eventId") DO NOTHING
            RETURNING id::text AS id`;
          deliveries = rows.map((r) => r.id);
        }
        await tx.$executeRaw`
          UPDATE "Event" SET "dispatchedAt" = now() WHERE seq = ANY(${events.map((e) => e.seq)}::bigint[])`;
        return { events, deliveries };
      },
      { maxWait: 10_000, timeout: 60_000 },
    );
    for (const event of result.events) {
      eventMetrics.stored.inc({ type: event.type });
      this.deps.log.write(orderedEnvelope(event.envelope));
    }
    for (const id of result.deliveries) {
      await this.deps
        .queue(id)
        .catch((err: unknown) => this.deps.logger.error({ err, deliveryId: id }, 'could not queue a webhook delivery'));
    }
    const last = result.events.at(-1);
    if (last) this.deps.onDispatched?.(BigInt(last.seq));
    return result.events.length;
  }

  private async requeueOrphans(): Promise<void> {
    const orphans = await this.deps.prisma.webhookDelivery.findMany({
      where: { status: 'pending', attempts: 0, updatedAt: { lt: new Date(Date.now() - ORPHAN_AFTER_MS) } },
      select: { id: true },
      take: 500,
    });
    // The job id is the delivery id: a job that does exist is not queued twice.
    for (const { id } of orphans) await this.deps.queue(id);
  }
}
