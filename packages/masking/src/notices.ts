import { BackendCode, typeTable } from '@warden/pg-wire';
import { Syntax, type Counts, type ValueMasker } from './value-masker.js';

// ErrorResponse/NoticeResponse fields that can carry data values: M message, D detail, H hint,
// W where (context), q internal query.
const SCANNED = typeTable([...'MDHWq']);

const DETAIL = 0x44; // D
const CODE = 0x43; // C

/**
 * Mask an ErrorResponse or NoticeResponse frame; null if nothing changed. Detectors run on the
 * fields that can quote values (message, detail, hint, context, internal query); field order and
 * unknown field types are kept. With column rules in force, the detail of an integrity
 * constraint violation (SQLSTATE class 23: `Key (ssn)=(123…) already exists`, `Failing row
 * contains (…)`) is withheld entirely, since it can quote a masked column no detector recognizes.
 */
export function maskNotice(frame: Buffer, values: ValueMasker, columnRules: boolean, counts: Counts): Buffer | null {
  // Fields: type byte, NUL-terminated value; a 0 type ends the list.
  const fields: [type: number, start: number, end: number][] = [];
  let pos = 5;
  let sqlstateClass23 = false;
  while (pos < frame.length && frame[pos] !== 0) {
    const type = frame[pos]!;
    const z = frame.indexOf(0, pos + 1);
    if (z < 0) return null; // malformed: forwarded as is, the client rejects it
    fields.push([type, pos + 1, z]);
    if (type === CODE && frame[pos + 1] === 0x32 && frame[pos + 2] === 0x33) sqlstateClass23 = true;
    pos = z + 1;
  }
  let changed = false;
  const out: Buffer[] = [];
  for (const [type, start, end] of fields) {
    let value: Buffer | null | undefined;
    if (type === DETAIL && columnRules && sqlstateClass23) {
      value = Buffer.from('[REDACTED]');
      counts['notice_detail'] = (counts['notice_detail'] ?? 0) + 1;
    } else if (SCANNED[type] === 1) value = values.maskBytes(frame, start, end, Syntax.Plain);
    if (value) changed = true;
    out.push(frame.subarray(start - 1, start), value ?? frame.subarray(start, end), ZERO);
  }
  if (!changed) return null;
  out.push(ZERO);
  return frameOf(frame[0]!, out);
}

/** Mask a NotificationResponse payload (pg_notify can carry anything); null if unchanged. */
export function maskNotification(frame: Buffer, values: ValueMasker): Buffer | null {
  const channelEnd = frame.indexOf(0, 9);
  if (channelEnd < 0) return null;
  const payloadEnd = frame.indexOf(0, channelEnd + 1);
  if (payloadEnd < 0) return null;
  const masked = values.maskBytes(frame, channelEnd + 1, payloadEnd, Syntax.Plain);
  if (!masked) return null;
  return frameOf(BackendCode.NotificationResponse, [
    frame.subarray(5, channelEnd + 1),
    masked,
    frame.subarray(payloadEnd),
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
