/**
 * Machine-readable reasons a tunnel operation or session failed. Callers branch on
 * `code` (e.g. the gateway maps AGENT_OFFLINE to SQLSTATE 08006), never on message.
 */
export type TunnelErrorCode =
  /** openSession: no agent with that name is connected to this gateway. */
  | 'AGENT_OFFLINE'
  /** openSession: the agent refused the session (its handler threw); message is the agent's. */
  | 'OPEN_FAILED'
  /** openSession: the agent did not answer within the open timeout. */
  | 'TIMEOUT'
  /** Gateway side: the agent's stream went away while the session was live or opening. */
  | 'AGENT_DISCONNECTED'
  /** Agent side: the gateway's stream went away while the session was live. */
  | 'GATEWAY_DISCONNECTED'
  /** The peer aborted the session (remote destroy(err)); message is the peer's reason. */
  | 'SESSION_ABORTED'
  /** The peer sent more than its credit allowed, or otherwise broke the framing rules. */
  | 'PROTOCOL_ERROR'
  /** The local TunnelServer/TunnelClient was closed. */
  | 'SHUTDOWN';

export class TunnelError extends Error {
  override readonly name = 'TunnelError';

  constructor(
    readonly code: TunnelErrorCode,
    message: string,
    /** For SESSION_ABORTED/OPEN_FAILED: the code the peer attached, if any. */
    readonly remoteCode?: string,
  ) {
    super(message);
  }
}

export function isTunnelError(err: unknown, code?: TunnelErrorCode): err is TunnelError {
  return err instanceof TunnelError && (code === undefined || err.code === code);
}
