import { hashToken } from '@warden/access';
import { DB_NOW, freshPresence, Prisma, type PrismaClient } from '@warden/db';
import { EventPublisher } from '@warden/events';
import type { Logger } from '@warden/runtime';
import type { AgentDisconnectInfo, AuthenticatedAgent, ConnectedAgent } from '@warden/tunnel';

/**
 * The control-plane view of agents for the tunnel: who may dial in, and whether an
 * agent is online. An agent is online while any gateway replica holds a stream from it
 * (AgentPresence), so replicas do not overwrite each other's view. Status writes are
 * best-effort: a failed write must not drop a working agent; the periodic refresh corrects it.
 */
export class AgentDirectory {
  /** agent.connected / agent.disconnected events; the gateway gives it the bus in start(). */
  readonly events: EventPublisher;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly gatewayId: string,
    private readonly logger: Logger,
    /** How often this replica refreshes its agents' presence (keepPresence). */
    private readonly presenceIntervalMs = 30_000,
  ) {
    this.events = new EventPublisher(prisma, { logger });
  }

  /** One event per tunnel stream an agent opens to this replica. */
  announceConnected(agent: ConnectedAgent): void {
    void this.events.emit(
      'agent.connected',
      {},
      {
        agent: { id: agent.agentId, name: agent.agentName },
        gatewayId: this.gatewayId,
        version: agent.agentVersion || null,
        hostname: agent.hostname || null,
        peer: agent.peer || null,
      },
    );
  }

  announceDisconnected(agent: ConnectedAgent, info: AgentDisconnectInfo): void {
    void this.events.emit(
      'agent.disconnected',
      {},
      {
        agent: { id: agent.agentId, name: agent.agentName },
        gatewayId: this.gatewayId,
        reason: info.reason,
        remainingConnections: info.remainingConnections,
      },
    );
  }

  async authenticate(key: string): Promise<AuthenticatedAgent | null> {
    const agent = await this.prisma.agent.findUnique({ where: { keyHash: hashToken(key) } });
    if (!agent || agent.revokedAt) return null;
    return { agentId: agent.id, agentName: agent.name };
  }

  async markOnline(agentId: string, details: { version?: string; hostname?: string }): Promise<void> {
    await this.prisma
      .$transaction([
        this.prisma.$executeRaw`
          INSERT INTO "AgentPresence" ("agentId", "gatewayId", "seenAt")
          VALUES (${agentId}::uuid, ${this.gatewayId}, ${DB_NOW})
          ON CONFLICT ("agentId", "gatewayId") DO UPDATE SET "seenAt" = EXCLUDED."seenAt"`,
        this.prisma.agent.update({
          where: { id: agentId },
          data: { status: 'online', lastSeenAt: new Date(), gatewayId: this.gatewayId, ...details },
        }),
      ])
      .catch((err: unknown) => this.logger.warn({ err, agentId }, 'could not mark agent online'));
  }

  /** This replica lost its last stream from the agent: offline unless another replica still has it. */
  async markOffline(agentId: string): Promise<void> {
    await this.prisma
      .$transaction([
        this.prisma.$executeRaw`
          DELETE FROM "AgentPresence" WHERE "agentId" = ${agentId}::uuid AND "gatewayId" = ${this.gatewayId}`,
        this.prisma.$executeRaw`
          UPDATE "Agent" SET status = 'offline', "lastSeenAt" = ${DB_NOW}
          WHERE id = ${agentId}::uuid AND NOT EXISTS (
            SELECT 1 FROM "AgentPresence" p
            WHERE p."agentId" = ${agentId}::uuid AND ${freshPresence(Prisma.sql`p."seenAt"`, this.presenceIntervalMs)})`,
      ])
      .catch((err: unknown) => this.logger.warn({ err, agentId }, 'could not mark agent offline'));
  }

  /**
   * Periodically refreshes the presence of the agents this replica holds (`held`) and sweeps
   * what replicas that died left behind. Returns the function that stops it.
   */
  keepPresence(held: () => string[]): () => void {
    const timer = setInterval(() => {
      void this.refreshPresence([...new Set(held())]).catch((err: unknown) =>
        this.logger.warn({ err }, 'could not refresh agent presence'),
      );
    }, this.presenceIntervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private async refreshPresence(agentIds: string[]): Promise<void> {
    for (const agentId of agentIds) {
      await this.prisma.$executeRaw`
        INSERT INTO "AgentPresence" ("agentId", "gatewayId", "seenAt")
        VALUES (${agentId}::uuid, ${this.gatewayId}, ${DB_NOW})
        ON CONFLICT ("agentId", "gatewayId") DO UPDATE SET "seenAt" = EXCLUDED."seenAt"`;
    }
    // Heals a lost race between one stream's offline write and another's online write.
    if (agentIds.length) {
      await this.prisma.agent.updateMany({
        where: { id: { in: agentIds }, status: { not: 'online' } },
        data: { status: 'online' },
      });
    }
    await this.sweep();
  }

  /** Forgets presence rows no replica refreshed in time; agents left without one are offline. */
  private async sweep(): Promise<void> {
    await this.prisma.$executeRaw`
      DELETE FROM "AgentPresence" WHERE NOT ${freshPresence(Prisma.sql`"seenAt"`, this.presenceIntervalMs)}`;
    await this.prisma.$executeRaw`
      UPDATE "Agent" a SET status = 'offline'
      WHERE a.status = 'online' AND NOT EXISTS (SELECT 1 FROM "AgentPresence" p WHERE p."agentId" = a.id)`;
  }

  /** On start and stop: this replica holds no agent; those no other replica holds are offline. */
  async resetStale(): Promise<void> {
    await this.prisma.$executeRaw`DELETE FROM "AgentPresence" WHERE "gatewayId" = ${this.gatewayId}`;
    await this.sweep();
  }
}
