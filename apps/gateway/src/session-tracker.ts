import type { Principal } from '@warden/access';
import type { ConnectionType, PrismaClient, SessionStatus } from '@warden/db';
import { EventPublisher } from '@warden/events';
import type { Logger } from '@warden/runtime';
import { registerSessionSource, type SessionTotals } from '@warden/runtime/metrics';
import type { SessionPolicy } from './policy-loader.js';
import type { OrphanedEnd, OrphanedSession } from './recording/interrupted-seal.js';
import type { EndableRecording } from './recording/session-recorder.js';

/** Counters a protocol session keeps while it runs; written to its row at the end. */
export interface SessionCounters {
  bytesIn: number;
  bytesOut: number;
  statements: number;
  /** Statements refused by policy, or by a review's outcome. */
  blocked: number;
  /** Statements held for review. */
  reviews?: number;
  /** Cells masked by the agent, by detector or `column:<name>`. */
  masked?: Record<string, number>;
}

export interface SessionStart {
  identityId: string;
  connectionId: string;
  agentId: string;
  protocol: ConnectionType;
  clientAddr: string | undefined;
  clientTls: boolean;
  clientUser: string | undefined;
}

/** Which sign-in, API key or registered SSH key a session was opened with. */
export type SessionCredential = Pick<Principal, 'authSessionId' | 'apiKeyId' | 'sshKeyId'>;

/** The credential fields of a principal, without holding on to the rest of it. */
export function credentialOf(principal: Principal): SessionCredential {
  const credential: SessionCredential = {};
  if (principal.authSessionId) credential.authSessionId = principal.authSessionId;
  if (principal.apiKeyId) credential.apiKeyId = principal.apiKeyId;
  if (principal.sshKeyId) credential.sshKeyId = principal.sshKeyId;
  return credential;
}

/** Ends the recording of a session whose gateway went away (Recordings.endOrphaned, by this gateway). */
export type OrphanEnder = (session: OrphanedSession, reason: string) => Promise<OrphanedEnd>;

/** What recoverOrphans did. */
export interface Recovered {
  /** Sessions this call ended (another replica may have ended some of those it found first). */
  ended: string[];
  /** Sessions left active because ending them failed (the database, mostly): try again later. */
  failed: string[];
}

/** Orphaned sessions ended at a time: each takes a few queries. */
const RECOVERY_CONCURRENCY = 4;
/** Ids per query when checking live sessions' rows. */
const ID_BATCH = 500;

/** A session as the rest of the gateway sees it: enough to end it from outside. */
export interface LiveSession {
  readonly id: string;
  readonly identityId: string;
  readonly connectionId: string;
  /** True when the session was let in by a time-boxed access grant (it ends with the grant). */
  readonly viaGrant: boolean;
  /** The credential the client authenticated with: the session ends when it is revoked. */
  readonly credential: SessionCredential;
  readonly counters: SessionCounters;
  /** Ends the session from outside (kill, containment, shutdown). */
  terminate(reason: string, status: SessionStatus): void;
  /**
   * The connection's policies changed (PolicyRefresh): the session enforces `next` from its next
   * statement on, or ends itself when it cannot switch safely. Absent: the protocol keeps the
   * policy it started with.
   */
  applyPolicy?(next: SessionPolicy): void;
}

/**
 * Every protocol's sessions, as rows in the control plane and as live objects this
 * replica can end. Protocol code only calls begin() and finish().
 */
export class SessionTracker {
  private readonly live = new Map<string, LiveSession>();
  /** Session-end writes in flight, so a shutdown can wait for them before closing the database. */
  private readonly finishing = new Set<Promise<void>>();
  /** Catalog events of sessions (started, ended, data.masked); the gateway gives it the bus in start(). */
  readonly events: EventPublisher;
  /** What the metrics and events need of a live session, kept from begin() to finish(). */
  private readonly started = new Map<string, { start: SessionStart; at: number }>();
  /** Counters of ended sessions per connection+protocol, so the metrics stay monotonic. */
  private readonly ended = new Map<string, SessionTotals>();
  /** Connection id → name for metric labels, re-read every minute (connections get renamed). */
  private connectionNames = new Map<string, string>();
  private connectionNamesAt = 0;
  private readonly unregisterMetrics: () => void;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly gatewayId: string,
    private readonly logger: Logger,
  ) {
    this.events = new EventPublisher(prisma, { logger: logger.child({ component: 'events' }) });
    this.unregisterMetrics = registerSessionSource(() => this.metricTotals());
  }

  async begin(start: SessionStart): Promise<string> {
    const row = await this.prisma.session.create({
      data: {
        ...start,
        clientAddr: start.clientAddr ?? null,
        clientUser: start.clientUser ?? null,
        gatewayId: this.gatewayId,
      },
    });
    this.started.set(row.id, { start, at: Date.now() });
    void this.events.emit(
      'session.started',
      { identity: { id: start.identityId }, connection: { id: start.connectionId }, session: { id: row.id } },
      {
        protocol: start.protocol,
        clientAddr: start.clientAddr ?? null,
        clientTls: start.clientTls,
        agentId: start.agentId,
        gatewayId: this.gatewayId,
      },
    );
    return row.id;
  }

  register(session: LiveSession): void {
    this.live.set(session.id, session);
  }

  get(id: string): LiveSession | undefined {
    return this.live.get(id);
  }

  /** Live sessions opened with the sign-in or the API key. */
  forCredential(revoked: SessionCredential): LiveSession[] {
    return [...this.live.values()].filter(
      ({ credential }) =>
        (revoked.authSessionId !== undefined && credential.authSessionId === revoked.authSessionId) ||
        (revoked.apiKeyId !== undefined && credential.apiKeyId === revoked.apiKeyId) ||
        (revoked.sshKeyId !== undefined && credential.sshKeyId === revoked.sshKeyId),
    );
  }

  forIdentity(identityId: string): LiveSession[] {
    return [...this.live.values()].filter((s) => s.identityId === identityId);
  }

  /** Live sessions on any of the connections; all of them when `connectionIds` is absent. */
  forConnections(connectionIds?: readonly string[]): LiveSession[] {
    const all = [...this.live.values()];
    return connectionIds ? all.filter((s) => connectionIds.includes(s.connectionId)) : all;
  }

  get size(): number {
    return this.live.size;
  }

  /** Records the end; the protocol session calls it once, from its single teardown path. */
  async finish(
    id: string,
    outcome: {
      status: SessionStatus;
      reason: string;
      counters: SessionCounters;
      recorder?: EndableRecording | undefined;
    },
  ): Promise<void> {
    this.live.delete(id);
    const { counters, recorder } = outcome;
    const begun = this.started.get(id);
    this.started.delete(id);
    if (begun) this.addEnded(begun.start, counters);
    const write = this.writeEnd(id, outcome.status, outcome.reason, counters, recorder).then(
      (written) => (begun && written ? this.emitEnd(id, begun, outcome) : undefined),
      (err: unknown) => this.logger.error({ err, sessionId: id }, 'could not record session end'),
    );
    this.finishing.add(write);
    try {
      await write;
    } finally {
      this.finishing.delete(write);
    }
  }

  /** session.ended, and data.masked when the agent masked anything: once per session, never per row. */
  private async emitEnd(
    id: string,
    begun: { start: SessionStart; at: number },
    outcome: { status: SessionStatus; reason: string; counters: SessionCounters },
  ): Promise<void> {
    const { start } = begun;
    const { counters } = outcome;
    const context = {
      identity: { id: start.identityId },
      connection: { id: start.connectionId },
      session: { id },
    };
    const masked = counters.masked ?? {};
    const maskedCells = Object.values(masked).reduce((a, b) => a + b, 0);
    if (maskedCells > 0) await this.events.emit('data.masked', context, { cells: { ...masked }, total: maskedCells });
    await this.events.emit('session.ended', context, {
      protocol: start.protocol,
      status: outcome.status,
      reason: outcome.reason,
      durationMs: Math.max(0, Date.now() - begun.at),
      bytesIn: counters.bytesIn,
      bytesOut: counters.bytesOut,
      statements: counters.statements,
      blocked: counters.blocked,
      reviews: counters.reviews ?? 0,
      maskedCells,
    });
  }

  private addEnded(start: SessionStart, counters: SessionCounters): void {
    const key = `${start.connectionId}\u0000${start.protocol}`;
    let totals = this.ended.get(key);
    if (!totals) {
      totals = emptyTotals(start.connectionId, start.protocol);
      this.ended.set(key, totals);
    }
    addCounters(totals, counters);
    totals.started += 1;
  }

  /**
   * Metrics at scrape time: ended sessions' totals plus the live sessions' counters, labelled by
   * connection name (looked up here, off the data path). Nothing is counted per message for this.
   */
  private async metricTotals(): Promise<SessionTotals[]> {
    const byKey = new Map<string, SessionTotals>();
    for (const [key, t] of this.ended) byKey.set(key, { ...t });
    for (const [id, { start }] of this.started) {
      const key = `${start.connectionId}\u0000${start.protocol}`;
      let totals = byKey.get(key);
      if (!totals) byKey.set(key, (totals = emptyTotals(start.connectionId, start.protocol)));
      totals.active += 1;
      totals.started += 1;
      const live = this.live.get(id);
      if (live) addCounters(totals, live.counters);
    }
    if (Date.now() - this.connectionNamesAt > 60_000) {
      this.connectionNames = new Map();
      this.connectionNamesAt = Date.now();
    }
    const unknown = [...new Set([...byKey.values()].map((t) => t.connection))].filter(
      (cid) => !this.connectionNames.has(cid),
    );
    if (unknown.length) {
      const rows = await this.prisma.connection
        .findMany({ where: { id: { in: unknown } }, select: { id: true, name: true } })
        .catch(() => []);
      for (const row of rows) this.connectionNames.set(row.id, row.name);
    }
    return [...byKey.values()].map((t) => ({
      ...t,
      connection: this.connectionNames.get(t.connection) ?? t.connection,
    }));
  }

  /** Stops reporting metrics (the gateway stopped). */
  close(): void {
    this.unregisterMetrics();
  }

  /**
   * The session row's end: status, counters and, when recorded, the recording's seal. Written only
   * while the row is still `active`: a row already ended was ended elsewhere (another replica took
   * this gateway for gone and sealed the recording as interrupted), and that end stands. False then.
   */
  private async writeEnd(
    id: string,
    status: SessionStatus,
    reason: string,
    counters: SessionCounters,
    recorder: EndableRecording | undefined,
  ): Promise<boolean> {
    const seal = recorder ? await recorder.end({ status, reason, counters: { ...counters } }) : null;
    const { count } = await this.prisma.session.updateMany({
      where: { id, status: 'active' },
      data: {
        status,
        endReason: reason,
        endedAt: new Date(),
        bytesIn: BigInt(counters.bytesIn),
        bytesOut: BigInt(counters.bytesOut),
        statementCount: counters.statements,
        blockedCount: counters.blocked,
        reviewCount: counters.reviews ?? 0,
        ...(counters.masked ? { maskedCells: counters.masked } : {}),
        ...(seal
          ? {
              eventCount: seal.lastSeq,
              finalHash: seal.finalHash,
              signature: seal.signature,
              signingKeyId: seal.signingKeyId,
              sealedSeq: seal.lastSeq,
              sealedAt: new Date(),
            }
          : {}),
      },
    });
    if (count === 0) {
      this.logger.warn(
        { sessionId: id, status },
        'the session had already been ended elsewhere (its recording sealed as interrupted); that end stands',
      );
    }
    return count === 1;
  }

  /**
   * Sessions a gateway left `active` when its process went away without ending them (a crash,
   * SIGKILL, a lost host): each ends `interrupted`, its recording sealed over what was stored and
   * marked as interrupted (recording/interrupted-seal.ts), its row written only if still `active`,
   * and session.ended is emitted. Used for this gateway's own id when it starts again (`ids`: the
   * ones it found then), and for another replica's once that one's presence expired.
   */
  async recoverOrphans(
    from: { gatewayId: string; ids?: readonly string[] },
    reason: string,
    endRecording: OrphanEnder,
  ): Promise<Recovered> {
    const rows = await this.prisma.session.findMany({
      where: { gatewayId: from.gatewayId, status: 'active', ...(from.ids ? { id: { in: [...from.ids] } } : {}) },
      select: { id: true, identityId: true, connectionId: true, protocol: true, startedAt: true },
    });
    // Never one this process runs (its own id: a session still being set up has a row before it is live).
    const orphans = rows.filter((row) => !this.started.has(row.id) && !this.live.has(row.id));
    const recovered: Recovered = { ended: [], failed: [] };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < orphans.length) {
        const row = orphans[next++]!;
        try {
          if (await this.endOrphan({ ...row, gatewayId: from.gatewayId }, reason, endRecording))
            recovered.ended.push(row.id);
        } catch (err) {
          recovered.failed.push(row.id);
          this.logger.warn({ err, sessionId: row.id, gatewayId: from.gatewayId }, 'could not end an orphaned session');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RECOVERY_CONCURRENCY, orphans.length) }, worker));
    return recovered;
  }

  private async endOrphan(
    row: { id: string; identityId: string; connectionId: string; protocol: string; startedAt: Date; gatewayId: string },
    reason: string,
    endRecording: OrphanEnder,
  ): Promise<boolean> {
    const end = await endRecording({ id: row.id, gatewayId: row.gatewayId, connectionId: row.connectionId }, reason);
    const endedAt = new Date();
    const counters = end.counters;
    const { seal } = end;
    const { count } = await this.prisma.session.updateMany({
      where: { id: row.id, status: 'active' },
      data: {
        status: end.status,
        endReason: end.reason,
        endedAt,
        ...(counters
          ? {
              bytesIn: BigInt(counters.bytesIn),
              bytesOut: BigInt(counters.bytesOut),
              statementCount: counters.statements,
              blockedCount: counters.blocked,
              ...(counters.masked ? { maskedCells: counters.masked } : {}),
            }
          : {}),
        ...(seal
          ? {
              eventCount: seal.lastSeq,
              finalHash: seal.finalHash,
              signature: seal.signature,
              signingKeyId: seal.signingKeyId,
              sealedSeq: seal.lastSeq,
              sealedAt: endedAt,
            }
          : {}),
      },
    });
    if (count === 0) return false;
    this.logger.info(
      {
        sessionId: row.id,
        gatewayId: row.gatewayId,
        status: end.status,
        recording: end.recording,
        storedEvents: end.storedSeq,
      },
      end.recording === 'unreadable'
        ? 'ended an orphaned session; its last stored chunk is unreadable, so its recording stays unsealed'
        : 'ended an orphaned session',
    );
    const masked = counters?.masked ?? {};
    void this.events.emit(
      'session.ended',
      { identity: { id: row.identityId }, connection: { id: row.connectionId }, session: { id: row.id } },
      {
        protocol: row.protocol,
        status: end.status,
        reason: end.reason,
        durationMs: Math.max(0, endedAt.getTime() - row.startedAt.getTime()),
        bytesIn: counters?.bytesIn ?? 0,
        bytesOut: counters?.bytesOut ?? 0,
        statements: counters?.statements ?? 0,
        blocked: counters?.blocked ?? 0,
        reviews: 0,
        maskedCells: Object.values(masked).reduce((a, b) => a + b, 0),
      },
    );
    return true;
  }

  /**
   * Ends the live sessions whose rows say they already ended: another replica took this gateway
   * for gone (it could not refresh its presence for longer than the TTL, e.g. cut off from the
   * database) and ended them, sealing their recordings as interrupted. Those ends stand (writeEnd
   * leaves ended rows alone); the clients are disconnected. Returns how many were ended.
   */
  async endSessionsEndedElsewhere(): Promise<number> {
    const ids = [...this.live.keys()];
    let ended = 0;
    for (let i = 0; i < ids.length; i += ID_BATCH) {
      const rows = await this.prisma.session.findMany({
        where: { id: { in: ids.slice(i, i + ID_BATCH) }, status: { not: 'active' } },
        select: { id: true, endReason: true },
      });
      for (const row of rows) {
        const session = this.live.get(row.id);
        if (!session) continue;
        this.logger.warn(
          { sessionId: row.id, endReason: row.endReason },
          'a live session was ended by another gateway replica while this one was out of reach; disconnecting it',
        );
        session.terminate('another gateway replica took this one for gone and ended the session', 'interrupted');
        ended += 1;
      }
    }
    return ended;
  }

  /**
   * Ends every live session, e.g. when the gateway shuts down, and resolves once
   * their rows say so: a caller that closes the database right after must not leave
   * them `active` for sessions that are gone.
   */
  async terminateAll(reason: string): Promise<void> {
    for (const session of [...this.live.values()]) session.terminate(reason, 'interrupted');
    await Promise.all([...this.finishing]);
  }
}

function emptyTotals(connection: string, protocol: string): SessionTotals {
  return {
    connection,
    protocol,
    active: 0,
    started: 0,
    statements: 0,
    blocked: 0,
    held: 0,
    maskedCells: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
}

function addCounters(totals: SessionTotals, counters: SessionCounters): void {
  totals.statements += counters.statements;
  totals.blocked += counters.blocked;
  totals.held += counters.reviews ?? 0;
  totals.bytesIn += counters.bytesIn;
  totals.bytesOut += counters.bytesOut;
  if (counters.masked) for (const n of Object.values(counters.masked)) totals.maskedCells += n;
}
