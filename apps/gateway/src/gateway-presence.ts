import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { DB_NOW, freshPresence, Prisma, type PrismaClient } from '@warden/db';
import { ConfigError, type Logger } from '@warden/runtime';
import type { Recordings } from './recording/recordings.js';
import type { SessionTracker } from './session-tracker.js';
import { faultMetrics } from '@warden/runtime/metrics';

/** Setting rows `gateway.presence:<gateway id>`: one per running gateway replica. */
const KEY_PREFIX = 'gateway.presence:';
/** A replica that missed this many refreshes in a row is taken for gone (as agent presence, packages/db). */
export const STALE_AFTER_INTERVALS = 3;
/** Orphaned sessions taken on per sweep; the rest are the next sweep's. */
const SWEEP_LIMIT = 2000;

export interface GatewayPresenceOptions {
  prisma: PrismaClient;
  gatewayId: string;
  /** How often this replica refreshes its presence and sweeps for replicas that are gone. */
  intervalMs: number;
  /** How often replicas refresh their agents' presence: judges replicas that keep no presence row. */
  agentPresenceIntervalMs: number;
  sessions: SessionTracker;
  recordings: Recordings;
  logger: Logger;
}

/** Sessions just ended because their gateway went away (`restarted`: this one, before): cancel the reviews they held. */
export type OnRecovered = (sessionIds: string[], restarted: boolean) => Promise<unknown>;

interface PresenceValue {
  instance?: string;
  intervalMs?: number;
  host?: string;
  pid?: number;
  startedAt?: string;
}

/**
 * This replica's presence in the control plane, and what it does for replicas that lost theirs.
 *
 * Every replica keeps a row fresh (Setting `gateway.presence:<id>`, the database's clock) every
 * `intervalMs`. Sessions a replica left `active` when it went away without ending them (a crash,
 * SIGKILL, a lost host) are ended `interrupted`, their recordings sealed over what was stored and
 * marked as interrupted (recording/interrupted-seal.ts):
 * - by the replica itself when it starts again under the same id, before it accepts clients;
 * - by any other replica once the gone one's row is older than STALE_AFTER_INTERVALS intervals
 *   (the gone replica's own interval, written in its row), at that replica's next sweep: between
 *   3 and 4 intervals after the crash (90-120 s at the default 30 s). A replica that never wrote a
 *   row (an older version) counts as gone once no agent presence of it is fresh either.
 * Then the gone replica's reviews are cancelled and, once it has no active session left, its row
 * is deleted.
 *
 * A replica cut off from the database for longer than that is taken for gone while it still runs:
 * when it reaches the database again it finds its sessions ended, disconnects them (their ends,
 * written by the other replica, stand) and writes its presence again.
 */
export class GatewayPresence {
  private readonly key: string;
  private readonly instance = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** This id's sessions from a previous run that could not be ended yet (the database, mostly). */
  private unrecovered = new Set<string>();
  private stopped = false;
  private onRecovered: OnRecovered = () => Promise.resolve();

  constructor(private readonly options: GatewayPresenceOptions) {
    this.key = KEY_PREFIX + options.gatewayId;
  }

  /**
   * Ends the sessions a previous run under this id left (claim() first), then keeps the presence
   * fresh and sweeps every interval (the first sweep right away, in the background).
   */
  async start(onRecovered: OnRecovered): Promise<void> {
    this.onRecovered = onRecovered;
    await this.recoverOwn();
    this.timer = setInterval(() => this.tick(), this.options.intervalMs);
    this.timer.unref();
    this.running = this.sweepSafely().finally(() => (this.running = undefined));
  }

  /** Stops refreshing and, the sessions being ended by then, removes this replica's presence. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.options.prisma.$executeRaw`
      DELETE FROM "Setting" WHERE key = ${this.key} AND value->>'instance' = ${this.instance}`.catch((err: unknown) =>
      this.options.logger.warn({ err }, 'could not remove this gateway’s presence'),
    );
  }

  private tick(): void {
    if (this.running || this.stopped) return;
    this.running = this.refreshAndSweep().finally(() => (this.running = undefined));
  }

  private async refreshAndSweep(): Promise<void> {
    const { logger } = this.options;
    try {
      await this.refresh();
    } catch (err) {
      // Nothing else can be done without the database; the next tick tries again.
      logger.warn({ err }, 'could not refresh this gateway’s presence');
      return;
    }
    try {
      await this.options.sessions.endSessionsEndedElsewhere();
      if (this.unrecovered.size) await this.recoverOwn([...this.unrecovered]);
    } catch (err) {
      logger.warn({ err }, 'could not check this gateway’s sessions against the control plane');
    }
    await this.sweepSafely();
  }

  /**
   * Writes this replica's presence. A fresh row of another process under the same id may be this
   * id's previous run, just gone (a crash, a restart), or a gateway still running under it: ending
   * "its" sessions then would cut that gateway's clients off. When the previous run is not known to
   * be gone (it ran on this host under a pid that no longer exists), this waits for the row to
   * either go stale (gone: up to three of its intervals) or be refreshed (running: the start fails).
   */
  async claim(): Promise<void> {
    const { prisma, gatewayId, logger } = this.options;
    let seen: number | undefined;
    for (;;) {
      const rows = await prisma.$queryRaw<{ value: PresenceValue; fresh: boolean; updatedAt: Date }[]>`
        SELECT value, "updatedAt", ${this.freshRow(Prisma.sql`"Setting"`)} AS fresh FROM "Setting" WHERE key = ${this.key}`;
      const previous = rows[0];
      if (!previous?.fresh || previousRunEnded(previous.value)) break;
      const { host, pid, intervalMs } = previous.value;
      if (seen === undefined) {
        seen = previous.updatedAt.getTime();
        logger.warn(
          { gatewayId, host, pid },
          'a gateway with this id refreshed its presence moments ago: waiting to see whether it still runs',
        );
      } else if (previous.updatedAt.getTime() !== seen) {
        throw new ConfigError(
          `gateway id "${gatewayId}" is in use by a running gateway (host ${host ?? '?'}, pid ${pid ?? '?'}): ` +
            'give each replica its own WARDEN_GATEWAY_ID (by default the host name and the Postgres listener port)',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, (intervalMs ?? this.options.intervalMs) + 100));
    }
    await this.write();
  }

  private async write(): Promise<void> {
    const value: PresenceValue = {
      instance: this.instance,
      intervalMs: this.options.intervalMs,
      host: hostname(),
      pid: process.pid,
      startedAt: new Date().toISOString(),
    };
    await this.options.prisma.$executeRaw`
      INSERT INTO "Setting" (key, value, "updatedAt") VALUES (${this.key}, ${JSON.stringify(value)}::jsonb, ${DB_NOW})
      ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "updatedAt" = EXCLUDED."updatedAt"`;
  }

  /**
   * Keeps the row fresh. When it is gone (another replica took this one for gone and removed it)
   * or holds another process's claim, it is written again; the sessions another replica ended
   * meanwhile are found by endSessionsEndedElsewhere.
   */
  private async refresh(): Promise<void> {
    const { prisma, logger, gatewayId } = this.options;
    const updated = await prisma.$executeRaw`
      UPDATE "Setting" SET "updatedAt" = ${DB_NOW} WHERE key = ${this.key} AND value->>'instance' = ${this.instance}`;
    if (updated === 1) return;
    const row = await prisma.setting.findUnique({ where: { key: this.key }, select: { value: true } });
    if (row) {
      const other = row.value as PresenceValue;
      logger.error(
        { gatewayId, host: other.host, pid: other.pid },
        'another gateway process runs with this gateway id: give each replica its own WARDEN_GATEWAY_ID',
      );
    } else {
      logger.warn(
        { gatewayId },
        'this gateway’s presence had expired (it could not refresh it in time) and another replica removed it',
      );
    }
    await this.write();
  }

  /** Sessions left active under this id by a previous run (all of them, or the `ids` still to do). */
  private async recoverOwn(ids?: string[]): Promise<void> {
    const { gatewayId, sessions, logger } = this.options;
    const reason = 'the gateway holding it restarted';
    const { ended, failed } = await sessions.recoverOrphans(
      { gatewayId, ...(ids ? { ids } : {}) },
      reason,
      (session, why) => this.options.recordings.endOrphaned(session, gatewayId, why),
    );
    this.unrecovered = new Set(failed);
    if (ended.length) faultMetrics.sessionsRecovered.inc({ how: 'restart' }, ended.length);
    if (ended.length) {
      const cancelled = await this.onRecovered(ended, true);
      logger.warn(
        { sessions: ended.length, reviews: Array.isArray(cancelled) ? cancelled.length : undefined },
        'ended the sessions a previous run of this gateway left open, their recordings sealed as interrupted',
      );
    }
    if (failed.length)
      logger.warn({ sessions: failed.length }, 'some sessions of a previous run could not be ended yet');
  }

  private async sweepSafely(): Promise<void> {
    try {
      await this.sweep();
    } catch (err) {
      this.options.logger.warn({ err }, 'could not sweep for gateway replicas that went away');
    }
  }

  /** Ends the sessions of replicas whose presence expired, then forgets presence rows nobody needs. */
  async sweep(): Promise<void> {
    const { prisma, gatewayId, sessions, logger } = this.options;
    if (this.stopped) return;
    // One statement: the sessions are those active when their gateway was judged gone, so a session
    // the gateway opens after coming back (it writes its presence first) is never among them.
    const orphans = await prisma.$queryRaw<{ id: string; gatewayId: string }[]>`
      WITH ids AS (
        SELECT DISTINCT "gatewayId" AS id FROM "Session"
        WHERE status = 'active' AND "gatewayId" IS NOT NULL AND "gatewayId" <> ${gatewayId}
      ), gone AS (
        SELECT ids.id FROM ids LEFT JOIN "Setting" g ON g.key = ${KEY_PREFIX}::text || ids.id
        WHERE CASE
          WHEN g.key IS NOT NULL THEN NOT ${this.freshRow(Prisma.sql`g`)}
          ELSE NOT EXISTS (
            SELECT 1 FROM "AgentPresence" p WHERE p."gatewayId" = ids.id
              AND ${freshPresence(Prisma.sql`p."seenAt"`, this.options.agentPresenceIntervalMs)})
        END
      )
      SELECT s.id::text AS id, s."gatewayId" AS "gatewayId" FROM "Session" s JOIN gone ON s."gatewayId" = gone.id
      WHERE s.status = 'active'
      LIMIT ${SWEEP_LIMIT}`;
    const byGateway = new Map<string, string[]>();
    for (const { id, gatewayId: gone } of orphans) {
      const list = byGateway.get(gone);
      if (list) list.push(id);
      else byGateway.set(gone, [id]);
    }
    for (const [gone, ids] of byGateway) {
      if (this.stopped) return;
      logger.warn(
        { gatewayId: gone, sessions: ids.length },
        'a gateway replica went away without ending its sessions: ending them, their recordings sealed as interrupted',
      );
      const { ended, failed } = await sessions.recoverOrphans(
        { gatewayId: gone, ids },
        `gateway ${gone} holding it went away; ended by gateway ${gatewayId}`,
        (session, why) => this.options.recordings.endOrphaned(session, gatewayId, why),
      );
      if (ended.length) faultMetrics.sessionsRecovered.inc({ how: 'takeover' }, ended.length);
      if (ended.length) await this.onRecovered(ended, false);
      logger.info({ gatewayId: gone, ended: ended.length, failed: failed.length }, 'ended sessions of a gone replica');
    }
    // Rows of replicas that are gone and have nothing left to end (a clean stop removes its own).
    await prisma.$executeRaw`
      DELETE FROM "Setting" g WHERE g.key LIKE ${KEY_PREFIX + '%'} AND NOT ${this.freshRow(Prisma.sql`g`)}
        AND NOT EXISTS (
          SELECT 1 FROM "Session" s WHERE s.status = 'active' AND s."gatewayId" = substr(g.key, ${KEY_PREFIX.length + 1}))`;
  }

  /** SQL: true for a presence row (`alias`) its replica refreshed within its own TTL. */
  private freshRow(alias: Prisma.Sql): Prisma.Sql {
    return Prisma.sql`(${alias}."updatedAt" > ${DB_NOW} - ${STALE_AFTER_INTERVALS}
      * COALESCE((${alias}.value->>'intervalMs')::float8, ${this.options.intervalMs}::float8) * interval '1 millisecond')`;
  }
}

/** True when the row is this host's previous run of this gateway, and that process is gone. */
function previousRunEnded(previous: PresenceValue): boolean {
  if (previous.host !== hostname() || typeof previous.pid !== 'number') return false;
  // A container's process often has the same pid every run: a row with ours is a previous run.
  if (previous.pid === process.pid) return true;
  try {
    process.kill(previous.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
