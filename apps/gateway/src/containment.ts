import type { ControlBus } from '@warden/control-bus';
import type { Logger } from '@warden/runtime';
import type { TunnelServer } from '@warden/tunnel';
import type { SessionTracker } from './session-tracker.js';

/**
 * Acts on containment messages from the control bus, whichever API instance or
 * replica published them: this replica ends the live sessions it holds that the
 * message names, and drops a revoked agent's streams. Refusing new connections needs
 * nothing here: authentication reads identity and key state from the database.
 */
export class Containment {
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly bus: ControlBus,
    private readonly sessions: SessionTracker,
    private readonly tunnel: TunnelServer,
    private readonly logger: Logger,
  ) {}

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
    await this.bus.ready();
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }
}
