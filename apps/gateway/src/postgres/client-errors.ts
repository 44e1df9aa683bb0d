import type { Socket } from 'node:net';
import { BackendSerializer, type NoticeFields } from '@warden/pg-wire';

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
