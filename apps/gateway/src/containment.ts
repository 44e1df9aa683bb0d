import type { ControlBus } from '@warden/control-bus';
import type { PrismaClient } from '@warden/db';
import type { Logger } from '@warden/runtime';
import type { TunnelServer } from '@warden/tunnel';
import { ContainmentReconcile, DEFAULT_RECONCILE_MS } from './containment-reconcile.js';
import type { SessionTracker } from './session-tracker.js';

export interface ContainmentOptions {
  /** The control plane, for the database half (ContainmentReconcile); absent: bus messages only. */
  prisma?: PrismaClient;
  /** WARDEN_CONTAINMENT_RECONCILE_MS: how often the database is asked (default 2 s). */
  reconcileMs?: number;
}

/**
 * Acts on containment messages from the control bus, whichever API instance or
 * replica published them: this replica ends the live sessions it holds that the
 * message names, and drops a revoked agent's streams. Kills and blocks are also
 * stored in the database before they are published, and read back from there every
 * few seconds (ContainmentReconcile), so they take effect when the bus is down or
 * this replica missed the message. Refusing new connections needs nothing here:
 * authentication reads identity and key state from the database.
 */
export class Containment {
  private readonly unsubscribe: (() => void)[] = [];
  /** The database half; undefined when constructed without prisma. */
  readonly reconcile: ContainmentReconcile | undefined;

  constructor(
    private readonly bus: ControlBus,
    private readonly sessions: SessionTracker,
    private readonly tunnel: TunnelServer,
    private readonly logger: Logger,
    options: ContainmentOptions = {},
  ) {
    this.reconcile = options.prisma
      ? new ContainmentReconcile(options.prisma, sessions, logger, options.reconcileMs ?? DEFAULT_RECONCILE_MS)
      : undefined;
  }

  async start(): Promise<void> {
    this.unsubscribe.push(
      this.bus.subscribe('session.kill', ({ sessionId, reason, by }) => {
        const session = this.sessions.get(sessionId);
        if (!session) return;
        this.logger.info({ sessionId, by: by?.name }, 'session killed');
        session.terminate(`terminated by ${by ? `${by.name}` : 'an administrator'}: ${reason}`, 'killed');
      }),
      this.bus.subscribe('identity.blocked', ({ identityId, reason }) => {
        const live = this.sessions.forIdentity(identityId);
        if (live.length)
          this.logger.info({ identityId, sessions: live.length }, 'identity blocked: ending its sessions');
        for (const session of live) session.terminate(`identity blocked: ${reason}`, 'killed');
      }),
      this.bus.subscribe('credential.revoked', ({ authSessionId, apiKeyId, sshKeyId, reason }) => {
        const live = this.sessions.forCredential({ authSessionId, apiKeyId, sshKeyId });
        if (live.length) this.logger.info({ sessions: live.length }, 'credential revoked: ending its sessions');
        for (const session of live) session.terminate(`credential revoked: ${reason}`, 'killed');
      }),
      this.bus.subscribe('access.revoked', ({ identityId, connectionId }) => {
        for (const session of this.sessions.forIdentity(identityId)) {
          if (session.connectionId === connectionId && session.viaGrant) {
            session.terminate('access to this connection was revoked', 'killed');
          }
        }
      }),
      this.bus.subscribe('agent.revoked', ({ agentId }) => {
        for (const agent of this.tunnel.listAgents()) {
          if (agent.agentId === agentId) this.tunnel.disconnectAgent(agent.agentName, 'the agent key was revoked');
        }
      }),
    );
    // Before waiting for the bus: the database half works without it.
    this.reconcile?.start();
    await this.bus.ready();
  }

  stop(): void {
    this.reconcile?.stop();
    for (const off of this.unsubscribe.splice(0)) off();
  }
}
