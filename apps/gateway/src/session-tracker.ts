import type { ConnectionType, PrismaClient, SessionStatus } from '@warden/db';
import type { Logger } from '@warden/runtime';
import type { SessionRecorder } from './recording/session-recorder.js';

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

/** A session as the rest of the gateway sees it: enough to end it from outside. */
export interface LiveSession {
  readonly id: string;
  readonly identityId: string;
  readonly connectionId: string;
  /** True when the session was let in by a time-boxed access grant (it ends with the grant). */
  readonly viaGrant: boolean;
  readonly counters: SessionCounters;
  /** Ends the session from outside (kill, containment, shutdown). */
  terminate(reason: string, status: SessionStatus): void;
}

/**
 * Every protocol's sessions, as rows in the control plane and as live objects this
 * replica can end. Protocol code only calls begin() and finish().
 */
export class SessionTracker {
  private readonly live = new Map<string, LiveSession>();
  /** Session-end writes in flight, so a shutdown can wait for them before closing the database. */
  private readonly finishing = new Set<Promise<void>>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly gatewayId: string,
    private readonly logger: Logger,
  ) {}

  async begin(start: SessionStart): Promise<string> {
    const row = await this.prisma.session.create({
      data: {
        ...start,
        clientAddr: start.clientAddr ?? null,
        clientUser: start.clientUser ?? null,
        gatewayId: this.gatewayId,
      },
    });
    return row.id;
  }

  register(session: LiveSession): void {
    this.live.set(session.id, session);
  }

  get(id: string): LiveSession | undefined {
    return this.live.get(id);
  }

  forIdentity(identityId: string): LiveSession[] {
    return [...this.live.values()].filter((s) => s.identityId === identityId);
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
      recorder?: SessionRecorder | undefined;
    },
  ): Promise<void> {
    this.live.delete(id);
    const { counters, recorder } = outcome;
    const write = this.writeEnd(id, outcome.status, outcome.reason, counters, recorder).then(
      () => undefined,
      (err: unknown) => this.logger.error({ err, sessionId: id }, 'could not record session end'),
    );
    this.finishing.add(write);
    try {
      await write;
    } finally {
      this.finishing.delete(write);
    }
  }

  /** The session row's end: status, counters and, when recorded, the recording's seal. */
  private async writeEnd(
    id: string,
    status: SessionStatus,
    reason: string,
    counters: SessionCounters,
    recorder: SessionRecorder | undefined,
  ): Promise<void> {
    const seal = recorder ? await recorder.end({ status, reason, counters: { ...counters } }) : null;
    await this.prisma.session.update({
      where: { id },
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
  }

  /**
   * Sessions this gateway id left `active` when its process died without ending them
   * (a crash, SIGKILL): marked interrupted at the next start. Returns their ids, so
   * reviews they held can be cancelled. Needs a stable WARDEN_GATEWAY_ID.
   */
  async recoverStale(): Promise<string[]> {
    const stale = await this.prisma.session.findMany({
      where: { gatewayId: this.gatewayId, status: 'active' },
      select: { id: true },
    });
    if (!stale.length) return [];
    await this.prisma.session.updateMany({
      where: { id: { in: stale.map((s) => s.id) }, status: 'active' },
      data: { status: 'interrupted', endReason: 'the gateway holding it restarted', endedAt: new Date() },
    });
    return stale.map((s) => s.id);
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
