import type { ControlBus } from '@warden/control-bus';
import type { Logger } from '@warden/runtime';
import type { PolicyLoader } from './policy-loader.js';
import type { SessionTracker } from './session-tracker.js';

/**
 * Applies policy changes made through any API instance to the live sessions this replica holds:
 * a guardrail added during an incident must stop the next statement of a session that is already
 * open, not only those of sessions opened afterwards. Each session decides how to switch
 * (LiveSession.applyPolicy); when the policy cannot be loaded, the sessions end (fail closed).
 */
export class PolicyRefresh {
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly bus: ControlBus,
    private readonly sessions: SessionTracker,
    private readonly policies: PolicyLoader,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.unsubscribe = this.bus.subscribe('policy.changed', ({ connectionIds }) => {
      void this.refresh(connectionIds);
    });
  }

  async refresh(connectionIds?: readonly string[]): Promise<void> {
    const live = this.sessions.forConnections(connectionIds).filter((s) => s.applyPolicy);
    const byConnection = new Map<string, typeof live>();
    for (const session of live)
      byConnection.set(session.connectionId, [...(byConnection.get(session.connectionId) ?? []), session]);
    for (const [connectionId, sessions] of byConnection) {
      try {
        const next = await this.policies.forConnection(connectionId);
        for (const session of sessions) session.applyPolicy!(next);
        this.logger.info(
          { connectionId, sessions: sessions.length, policies: next.names },
          'policies reapplied to live sessions',
        );
      } catch (err) {
        this.logger.error({ err, connectionId }, 'could not load the changed policies: ending the live sessions');
        for (const session of sessions) {
          session.terminate('the connection’s policies changed and could not be loaded', 'killed');
        }
      }
    }
  }

  stop(): void {
    this.unsubscribe?.();
  }
}
