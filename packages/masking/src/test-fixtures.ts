// Fixtures shared by the ResultMasker tests (not exported from index.ts): a `customers` result
// with column rules and detectors, in text or binary format.
import { BackendSerializer as S, type FieldDescriptionInput, type TypedFrontendMessage } from '@warden/pg-wire';
import { DEFAULT_DETECTOR_STRATEGIES, type MaskingPlan } from './index.js';
import { parseWithPgProtocol } from './test-helpers.js';

export const T = 16400; // customers table OID
export const key = Buffer.alloc(32, 1);
export const b = (s: string) => Buffer.from(s);

export const plan: MaskingPlan = {
  columns: {
    [`${T}:3`]: { strategy: 'last4', name: 'public.customers.ssn' },
    [`${T}:6`]: { strategy: 'hash', name: 'public.customers.account' },
    [`${T}:7`]: { strategy: 'redact', name: 'public.customers.balance' },
  },
  detectors: DEFAULT_DETECTOR_STRATEGIES,
};

export function fields(format: 0 | 1): FieldDescriptionInput[] {
  return [
    { name: 'id', tableOID: T, columnAttr: 1, dataTypeOID: 23, format },
    { name: 'email', tableOID: T, columnAttr: 2, dataTypeOID: 25, format },
    { name: 'ssn', tableOID: T, columnAttr: 3, dataTypeOID: 1043, format },
    { name: 'notes', tableOID: T, columnAttr: 4, dataTypeOID: 25, format },
    { name: 'doc', tableOID: T, columnAttr: 5, dataTypeOID: 3802, format },
    { name: 'account', tableOID: T, columnAttr: 6, dataTypeOID: 20, format },
    { name: 'balance', tableOID: T, columnAttr: 7, dataTypeOID: 1700, format },
  ];
}

export const doc = '{"card": "4242 4242 4242 4242", "n": 4111111111111111, "ok": "plain"}';

export function row(format: 0 | 1, id: number, email: string | null, notes: string): Buffer {
  const int4 = Buffer.alloc(4);
  int4.writeInt32BE(id);
  const int8 = Buffer.alloc(8);
  int8.writeBigInt64BE(BigInt(id) * 1000n);
  return S.dataRow([
    format ? int4 : b(String(id)),
    email === null ? null : b(email),
    b('123-45-6789'),
    b(notes),
    format ? Buffer.concat([Buffer.from([1]), b(doc)]) : b(doc),
    format ? int8 : b(String(id * 1000)),
    format ? Buffer.from([0, 1, 0, 0, 0, 0, 0, 0]) : b('12.50'),
  ]);
}

export function stream(format: 0 | 1): Buffer {
  return Buffer.concat([
    S.rowDescription(fields(format)),
    row(format, 1, 'ada@example.com', 'call +1 415 555 2671'),
    row(format, 2, null, 'nothing to see'),
    S.commandComplete('SELECT 2'),
    S.readyForQuery('I'),
  ]);
}

/** DataRow cells of the parsed output as strings (null for NULL). */
export async function rows(out: Buffer): Promise<(string | null)[][]> {
  const msgs = await parseWithPgProtocol(out);
  return msgs.filter((m) => m.name === 'dataRow').map((m) => m.fields as (string | null)[]);
}

export function fm(m: Record<string, unknown>): TypedFrontendMessage {
  return { frame: Buffer.alloc(0), ...m } as unknown as TypedFrontendMessage;
}

export function lengthPrefixed(e: Buffer | null): Buffer {
  const l = Buffer.alloc(4);
  l.writeInt32BE(e === null ? -1 : e.length);
  return e === null ? l : Buffer.concat([l, e]);
}

/** Split a well-formed backend byte string into frames. */
export function framesOf(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < buf.length;) {
    const len = buf.readInt32BE(p + 1);
    out.push(buf.subarray(p, p + 1 + len));
    p += 1 + len;
  }
  return out;
}
