import { SqlState } from './sqlstate.js';

/**
 * A peer sent bytes that are not valid Postgres protocol v3.
 *
 * - `fatal: true` means the byte stream can no longer be framed (bad length, unknown message
 *   type, oversized message, bad startup packet). The parser that threw it stays failed and
 *   rethrows it; the connection must be closed (after an ErrorResponse with severity FATAL).
 * - `fatal: false` means one whole frame was consumed but its body is malformed (missing
 *   terminator, counts that do not add up, invalid UTF-8). The stream is still in sync and the
 *   parser can go on; `frame` holds the offending frame.
 *
 * `code` is the SQLSTATE to report: 08P01 protocol_violation, 54000 program_limit_exceeded for
 * too-large messages, 22021 character_not_in_repertoire for invalid UTF-8.
 */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
  readonly code: string;
  readonly fatal: boolean;
  /** The complete offending frame, for non-fatal (body) violations. */
  frame: Buffer | undefined;

  constructor(message: string, code: string = SqlState.PROTOCOL_VIOLATION, fatal = true, frame?: Buffer) {
    super(message);
    this.code = code;
    this.fatal = fatal;
    this.frame = frame;
  }
}

/** A malformed message body (non-fatal: framing is intact). */
export function malformed(message = 'invalid message format'): ProtocolViolation {
  return new ProtocolViolation(message, SqlState.PROTOCOL_VIOLATION, false);
}
