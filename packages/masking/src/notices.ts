import { BackendCode, ProtocolViolation, typeTable } from '@warden/pg-wire';
import { Syntax, type Counts, type ValueMasker } from './value-masker.js';

/** Counter of ErrorResponse/NoticeResponse frames whose fields were withheld under column rules. */
export const NOTICE_WITHHELD_COUNTER = 'notice_detail';

/** What replaces a withheld field: says a value was there and who removed it. */
export const WITHHELD_TEXT = '[withheld by Warden: may quote values of masked columns]';

// ErrorResponse/NoticeResponse fields set by the server itself, never from data: S/V severity,
// C SQLSTATE, F/L/R source file, line and routine, P/p cursor positions. Kept as they are.
const SERVER_SET = typeTable([...'SVCFLRPp']);
// Fields that quote values or code: D detail ("Failing row contains (…)", "Key (ssn)=(…)"),
// H hint, W context (PL/pgSQL lines, SQL statements with their arguments), q internal query.
// With column rules in force they are replaced by WITHHELD_TEXT.
const VALUE_TEXT = typeTable([...'DHWq']);
// Object names: s schema, t table, c column, d data type, n constraint. The server puts names
// there, but RAISE … USING SCHEMA/TABLE/COLUMN/DATATYPE/CONSTRAINT = <any expression> can put a
// value: with column rules in force they are dropped (the message still names the object).
const OBJECT_NAME = typeTable([...'stcdn']);

const WITHHELD = Buffer.from(WITHHELD_TEXT);

/**
 * Mask an ErrorResponse or NoticeResponse frame; null if nothing changed. Severity, SQLSTATE,
 * source location and positions are kept. With column rules in force, every field that can
 * quote a value (detail, hint, context, internal query) is replaced by {@link WITHHELD_TEXT} and
 * object-name fields are dropped, whatever the SQLSTATE: check-option, not-null, exclusion and
 * unique violations quote whole rows and keys, including masked columns the statement never
 * named, and triggers can RAISE anything. The message is kept (clients need it) and, like every
 * field without column rules, goes through the detectors. Field order is kept.
 */
export function maskNotice(frame: Buffer, values: ValueMasker, columnRules: boolean, counts: Counts): Buffer | null {
  // Fields: type byte, NUL-terminated value; a 0 type ends the list.
  const fields: [type: number, start: number, end: number][] = [];
  let pos = 5;
  while (pos < frame.length && frame[pos] !== 0) {
    const type = frame[pos]!;
    const z = frame.indexOf(0, pos + 1);
    if (z < 0) throw new ProtocolViolation('malformed ErrorResponse/NoticeResponse', '08P01', true);
    fields.push([type, pos + 1, z]);
    pos = z + 1;
  }
  if (pos !== frame.length - 1) throw new ProtocolViolation('malformed ErrorResponse/NoticeResponse', '08P01', true);
  let changed = false;
  let withheld = false;
  const out: Buffer[] = [];
  for (const [type, start, end] of fields) {
    let value: Buffer | null | undefined;
    if (SERVER_SET[type] === 1) value = undefined;
    else if (columnRules && OBJECT_NAME[type] === 1) {
      changed = withheld = true;
      continue;
    } else if (columnRules && VALUE_TEXT[type] === 1) {
      value = WITHHELD;
      withheld = true;
    } else value = values.maskBytes(frame, start, end, Syntax.Plain);
    if (value) changed = true;
    out.push(frame.subarray(start - 1, start), value ?? frame.subarray(start, end), ZERO);
  }
  if (withheld) counts[NOTICE_WITHHELD_COUNTER] = (counts[NOTICE_WITHHELD_COUNTER] ?? 0) + 1;
  if (!changed) return null;
  out.push(ZERO);
  return frameOf(frame[0]!, out);
}

/** Mask a ParameterStatus value (`SET application_name = '<card number>'` is reported back); null if unchanged. */
export function maskParameterStatus(frame: Buffer, values: ValueMasker): Buffer | null {
  const nameEnd = frame.indexOf(0, 5);
  const valueEnd = nameEnd < 0 ? -1 : frame.indexOf(0, nameEnd + 1);
  if (valueEnd !== frame.length - 1) throw new ProtocolViolation('malformed ParameterStatus', '08P01', true);
  const masked = values.maskBytes(frame, nameEnd + 1, valueEnd, Syntax.Plain);
  if (!masked) return null;
  return frameOf(BackendCode.ParameterStatus, [frame.subarray(5, nameEnd + 1), masked, ZERO]);
}

/** Mask a NotificationResponse payload (pg_notify can carry anything); null if unchanged. */
export function maskNotification(frame: Buffer, values: ValueMasker): Buffer | null {
  const channelEnd = frame.length < 10 ? -1 : frame.indexOf(0, 9);
  const payloadEnd = channelEnd < 0 ? -1 : frame.indexOf(0, channelEnd + 1);
  if (payloadEnd !== frame.length - 1) throw new ProtocolViolation('malformed NotificationResponse', '08P01', true);
  // The channel name is any text up to 63 bytes (pg_notify takes it as a string).
  const channel = values.maskBytes(frame, 9, channelEnd, Syntax.Plain);
  const payload = values.maskBytes(frame, channelEnd + 1, payloadEnd, Syntax.Plain);
  if (!channel && !payload) return null;
  return frameOf(BackendCode.NotificationResponse, [
    frame.subarray(5, 9),
    channel ?? frame.subarray(9, channelEnd),
    ZERO,
    payload ?? frame.subarray(channelEnd + 1, payloadEnd),
    ZERO,
  ]);
}

const ZERO = Buffer.from([0]);

function frameOf(code: number, body: Buffer[]): Buffer {
  let len = 4;
  for (const b of body) len += b.length;
  const out = Buffer.allocUnsafe(len + 1);
  out[0] = code;
  out.writeInt32BE(len, 1);
  let p = 5;
  for (const b of body) p += b.copy(out, p);
  return out;
}

export { frameOf };
