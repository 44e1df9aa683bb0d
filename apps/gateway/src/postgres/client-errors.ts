import type { Socket } from 'node:net';
import { BackendSerializer, SqlState, type NoticeFields } from '@warden/pg-wire';
import { isTunnelError } from '@warden/tunnel';
import { isControlPlaneUnavailable } from '@warden/db';
import type { ConnectionWithAgent } from '../connection-targets.js';

/**
 * What a client is told when the gateway cannot use its control-plane database: 57P03
 * (cannot_connect_now, as a server that is starting up), which clients and poolers retry, and
 * nothing of the cause; the log has it.
 */
export const CONTROL_PLANE_UNAVAILABLE = {
  code: '57P03',
  message: 'the access service is unavailable; try again shortly',
} as const;

/**
 * A failure of the gateway's own (control-plane database, a bug) rather than of the client, as
 * the SQLSTATE and message the client gets, or null for an error that is the client's to see
 * (protocol violations, TLS, timeouts). Prisma's messages quote source files and code and name the
 * database's address: none of them reaches a client.
 */
export function internalFailure(error: unknown): { code: string; message: string } | null {
  if (isControlPlaneUnavailable(error)) return CONTROL_PLANE_UNAVAILABLE;
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  if (
    (typeof name === 'string' && name.startsWith('PrismaClient')) ||
    (typeof code === 'string' && /^P\d{4}$/.test(code))
  )
    return { code: SqlState.INTERNAL_ERROR, message: 'internal error in the access service' };
  return null;
}

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
  if (socket.destroyed || socket.writableEnded) return;
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
