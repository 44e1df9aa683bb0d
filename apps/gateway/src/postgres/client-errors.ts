import type { Socket } from 'node:net';
import { BackendSerializer, SqlState, type NoticeFields } from '@warden/pg-wire';
import { isTunnelError } from '@warden/tunnel';
import type { ConnectionWithAgent } from '../connection-targets.js';

/** An ErrorResponse as Postgres would send it; `fatal` ends the connection. */
export function errorFrame(
  code: string,
  message: string,
  options: { fatal?: boolean; detail?: string; hint?: string } = {},
): Buffer {
  const severity = options.fatal ? 'FATAL' : 'ERROR';
  const fields: NoticeFields = { severity, severityNonLocalized: severity, code, message };
  if (options.detail) fields.detail = options.detail;
  if (options.hint) fields.hint = options.hint;
  return BackendSerializer.errorResponse(fields);
}

/** Sends a FATAL error and closes: what the client sees when it cannot go on. */
export function refuse(socket: Socket, code: string, message: string, hint?: string): void {
  if (socket.destroyed) return;
  socket.end(errorFrame(code, message, { fatal: true, ...(hint ? { hint } : {}) }));
}

/** Why a session could not be opened on the agent, as a SQLSTATE and a message naming no host or user. */
export function describeOpenFailure(
  error: unknown,
  connection: ConnectionWithAgent,
): { code: string; message: string } {
  const agent = connection.agent.name;
  if (isTunnelError(error, 'OPEN_FAILED')) {
    const remote = (error as { remoteCode?: string }).remoteCode;
    return {
      code: remote && /^[0-9A-Z]{5}$/.test(remote) ? remote : SqlState.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
      message: `connection "${connection.name}": ${(error as Error).message}`,
    };
  }
  if (
    isTunnelError(error, 'AGENT_OFFLINE') ||
    isTunnelError(error, 'TIMEOUT') ||
    isTunnelError(error, 'AGENT_DISCONNECTED')
  ) {
    return {
      code: SqlState.CONNECTION_FAILURE,
      message: `agent "${agent}" serving connection "${connection.name}" is offline`,
    };
  }
  return { code: SqlState.CONNECTION_FAILURE, message: `could not open a session on connection "${connection.name}"` };
}
