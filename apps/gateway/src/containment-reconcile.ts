import type { PrismaClient } from '@warden/db';
import type { Logger } from '@warden/runtime';
import type { LiveSession, SessionTracker } from './session-tracker.js';
import { faultMetrics } from '@warden/runtime/metrics';

/** Default of WARDEN_CONTAINMENT_RECONCILE_MS. */
export const DEFAULT_RECONCILE_MS = 2000;

/** Ids per query: keeps one query's parameter list small on a replica with many live sessions. */
const BATCH = 1000;

export interface ReconcileStats {
  /** Database checks that ran (with at least one live session: an idle replica asks nothing). */
  checks: number;
  /** Checks that failed (database unreachable); the next interval tries again. */
  failures: number;
  /** Sessions this check ended because of a kill recorded on their row. */
  killed: number;
  /** Sessions this check ended because their identity is blocked or disabled. */
  blocked: number;
}

/**
 * The database half of containment: every `intervalMs` the gateway asks the control plane whether
 * any session it holds was killed (Session.killRequestedAt, set by the API before it publishes) or
 * belongs to an identity that is no longer active (blocked or disabled), and ends those sessions
 * as the control-bus message would have. The bus is the fast path (milliseconds); this is what
 * makes a decision taken while Redis is down, or a message this replica missed while disconnected,
 * reach it within one interval.
 *
 * Cheap by construction: nothing is asked while the replica holds no session; otherwise one query
 * by primary key over this replica's live sessions (joined to their identities by primary key),
 * returning only the rows to end. A failed check (database down) is logged once per outage and
 * retried at the next interval.
 */
export class ContainmentReconcile {
  readonly stats: ReconcileStats = { checks: 0, failures: 0, killed: 0, blocked: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private failing = false;
  /** Sessions already told to end, so a slow teardown is not terminated again at the next check. */
  private readonly ended = new WeakSet<LiveSession>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly sessions: SessionTracker,
    private readonly logger: Logger,
    private readonly intervalMs: number = DEFAULT_RECONCILE_MS,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops the checks; a check in flight is not waited for (the database may be what hangs). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One check now (the timer's, and tests'); concurrent calls share the check in flight. */
  check(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.check().finally(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    const live = this.sessions.forConnections().filter((s) => !this.ended.has(s));
    if (!live.length) return;
    this.stats.checks += 1;
    try {
      for (let i = 0; i < live.length; i += BATCH) await this.reconcile(live.slice(i, i + BATCH));
      if (this.failing) this.logger.info('containment check: the database answers again');
      this.failing = false;
    } catch (err) {
      this.stats.failures += 1;
      faultMetrics.containmentReconcileFailures.inc();
      if (!this.failing) {
        this.logger.warn({ err }, 'containment check failed; retrying every interval until the database answers');
      }
      this.failing = true;
    }
  }

  private async reconcile(batch: LiveSession[]): Promise<void> {
    const rows = await this.prisma.session.findMany({
      where: {
        id: { in: batch.map((s) => s.id) },
        OR: [{ killRequestedAt: { not: null } }, { identity: { status: { not: 'active' } } }],
      },
      select: {
        id: true,
        killRequestedAt: true,
        killReason: true,
        killedBy: true,
        identity: { select: { status: true, blockedReason: true } },
      },
    });
    for (const row of rows) {
      const session = this.sessions.get(row.id);
      if (!session || this.ended.has(session)) continue;
      this.ended.add(session);
      // The same words as the bus messages' handlers (containment.ts), so a client cannot tell the paths apart.
      if (row.killRequestedAt) {
        this.stats.killed += 1;
        faultMetrics.containmentReconciled.inc({ action: 'kill' });
        this.logger.info({ sessionId: row.id, by: row.killedBy, via: 'database' }, 'session killed');
        session.terminate(
          `terminated by ${row.killedBy ?? 'an administrator'}: ${row.killReason ?? 'ended by an administrator'}`,
          'killed',
        );
      } else {
        this.stats.blocked += 1;
        faultMetrics.containmentReconciled.inc({ action: 'block' });
        const reason =
          row.identity.status === 'blocked'
            ? (row.identity.blockedReason ?? 'blocked by an administrator')
            : 'the identity was disabled';
        this.logger.info(
          { sessionId: row.id, identityId: session.identityId, via: 'database' },
          'identity blocked: ending its session',
        );
        session.terminate(`identity blocked: ${reason}`, 'killed');
      }
    }
  }
}
