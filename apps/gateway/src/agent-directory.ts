import { hashToken } from '@warden/access';
import type { PrismaClient } from '@warden/db';
import { EventPublisher } from '@warden/events';
import type { Logger } from '@warden/runtime';
import type { AgentDisconnectInfo, AuthenticatedAgent, ConnectedAgent } from '@warden/tunnel';

/**
 * The control-plane view of agents for the tunnel: who may dial in, and whether an
 * agent is online. Status writes are best-effort: a failed write must not drop a
 * working agent, the next heartbeat-driven change corrects it.
 */
export class AgentDirectory {
  /** agent.connected / agent.disconnected events; the gateway gives it the bus in start(). */
  readonly events: EventPublisher;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly gatewayId: string,
    private readonly logger: Logger,
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
    await this.prisma.agent
      .update({
        where: { id: agentId },
        data: { status: 'online', lastSeenAt: new Date(), gatewayId: this.gatewayId, ...details },
      })
      .catch((err: unknown) => this.logger.warn({ err, agentId }, 'could not mark agent online'));
  }

  async markOffline(agentId: string): Promise<void> {
    await this.prisma.agent
      .update({ where: { id: agentId }, data: { status: 'offline', lastSeenAt: new Date() } })
      .catch((err: unknown) => this.logger.warn({ err, agentId }, 'could not mark agent offline'));
  }

  /** On start: agents this gateway had marked online are not connected any more. */
  async resetStale(): Promise<void> {
    await this.prisma.agent.updateMany({
      where: { gatewayId: this.gatewayId, status: 'online' },
      data: { status: 'offline' },
    });
  }
}
