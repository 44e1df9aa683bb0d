import { BufferReader } from './buffer-reader.js';
import { ProtocolViolation, malformed } from './protocol-violation.js';

/**
 * Backend (server → client) message type bytes, and decoders for the raw frames that
 * {@link BackendSplitter} yields. A frame is the whole message: type byte, int32 length, body.
 * Decoders return zero-copy subarrays for binary payloads (DataRow cells, SASL data) and throw a
 * non-fatal {@link ProtocolViolation} on malformed bodies, never a RangeError.
 */
export const BackendCode = {
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  NotificationResponse: 0x41, // A
  CommandComplete: 0x43, // C
  DataRow: 0x44, // D
  ErrorResponse: 0x45, // E
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  EmptyQueryResponse: 0x49, // I
  BackendKeyData: 0x4b, // K
  NoticeResponse: 0x4e, // N
  Authentication: 0x52, // R
  ParameterStatus: 0x53, // S
  RowDescription: 0x54, // T
  FunctionCallResponse: 0x56, // V
  CopyBothResponse: 0x57, // W
  ReadyForQuery: 0x5a, // Z
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  NoData: 0x6e, // n
  PortalSuspended: 0x73, // s
  ParameterDescription: 0x74, // t
  NegotiateProtocolVersion: 0x76, // v
} as const;

export type BackendCodeValue = (typeof BackendCode)[keyof typeof BackendCode];

/** Sub-codes of Authentication ('R') messages. */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** One column of a RowDescription. */
export interface FieldDescription {
  name: string;
  /** OID of the table the column comes from, 0 if not a plain table column. */
  tableOID: number;
  /** Attribute number of the column in that table, 0 if none. */
  columnAttr: number;
  dataTypeOID: number;
  /** pg_type.typlen (negative = variable width). */
  typeSize: number;
  /** pg_attribute.atttypmod (-1 = none). */
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: number;
}

/**
 * ErrorResponse / NoticeResponse fields by name. Field type bytes: S severity, V severity
 * (never localized), C code, M message, D detail, H hint, P position, p internal position,
 * q internal query, W where, s schema, t table, c column, d data type, n constraint, F file,
 * L line, R routine.
 */
export interface NoticeFields {
  severity: string;
  code: string;
  message: string;
  severityNonLocalized?: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
}

/** Field type byte for each optional/required field of {@link NoticeFields}, in wire order. */
export const NOTICE_FIELD_CODES: readonly (readonly [keyof NoticeFields, number])[] = [
  ['severity', 0x53], // S
  ['severityNonLocalized', 0x56], // V
  ['code', 0x43], // C
  ['message', 0x4d], // M
  ['detail', 0x44], // D
  ['hint', 0x48], // H
  ['position', 0x50], // P
  ['internalPosition', 0x70], // p
  ['internalQuery', 0x71], // q
  ['where', 0x57], // W
  ['schema', 0x73], // s
  ['table', 0x74], // t
  ['column', 0x63], // c
  ['dataType', 0x64], // d
  ['constraint', 0x6e], // n
  ['file', 0x46], // F
  ['line', 0x4c], // L
  ['routine', 0x52], // R
];

const FIELD_NAME_BY_CODE: (keyof NoticeFields | undefined)[] = new Array(256);
for (const [name, code] of NOTICE_FIELD_CODES) FIELD_NAME_BY_CODE[code] = name;

export type TransactionStatus = 'I' | 'T' | 'E';

export interface ParameterStatus {
  name: string;
  value: string;
}

export interface BackendKeyData {
  processId: number;
  /** The first four key bytes as a signed int32 (the whole key in protocol 3.0). */
  secretKey: number;
  /** The whole key (4 bytes in 3.0, up to 256 in 3.2). */
  secretKeyBytes: Buffer;
}

export interface NotificationResponse {
  processId: number;
  channel: string;
  payload: string;
}

export interface CopyResponse {
  /** 0 text, 1 binary (overall format). */
  format: number;
  columnFormats: number[];
}

export interface NegotiateProtocolVersion {
  /** Newest minor protocol version the server supports for the requested major. */
  newestMinor: number;
  unrecognizedOptions: string[];
}

export type Authentication =
  | { type: 'ok' }
  | { type: 'cleartextPassword' }
  | { type: 'md5Password'; salt: Buffer }
  | { type: 'sasl'; mechanisms: string[] }
  | { type: 'saslContinue'; data: Buffer }
  | { type: 'saslFinal'; data: Buffer }
  | { type: 'gss' }
  | { type: 'gssContinue'; data: Buffer }
  | { type: 'sspi' }
  | { type: 'kerberosV5' };

// Decoders run synchronously and never re-enter: one reader serves them all.
const reader = new BufferReader(false);

function open(frame: Buffer, code: number): BufferReader {
  if (frame.length < 5 || frame[0] !== code) {
    throw new ProtocolViolation(
      `expected message type '${String.fromCharCode(code)}', got ${frame.length ? `'${String.fromCharCode(frame[0]!)}'` : 'nothing'}`,
      '08P01',
      false,
      frame,
    );
  }
  return reader.reset(frame, 5);
}

export function decodeAuthentication(frame: Buffer): Authentication {
  const r = open(frame, BackendCode.Authentication);
  const code = r.int32();
  let out: Authentication;
  switch (code) {
    case AuthCode.Ok:
      out = { type: 'ok' };
      break;
    case AuthCode.CleartextPassword:
      out = { type: 'cleartextPassword' };
      break;
    case AuthCode.MD5Password:
      out = { type: 'md5Password', salt: r.bytes(4) };
      break;
    case AuthCode.SASL: {
      const mechanisms: string[] = [];
      for (let m = r.cstring(); m !== ''; m = r.cstring()) mechanisms.push(m);
      out = { type: 'sasl', mechanisms };
      break;
    }
    case AuthCode.SASLContinue:
      return { type: 'saslContinue', data: r.rest() };
    case AuthCode.SASLFinal:
      return { type: 'saslFinal', data: r.rest() };
    case AuthCode.GSS:
      out = { type: 'gss' };
      break;
    case AuthCode.GSSContinue:
      return { type: 'gssContinue', data: r.rest() };
    case AuthCode.SSPI:
      out = { type: 'sspi' };
      break;
    case AuthCode.KerberosV5:
      out = { type: 'kerberosV5' };
      break;
    default:
      throw malformed(`unknown authentication request ${code}`);
  }
  r.expectEnd();
  return out;
}

export function decodeRowDescription(frame: Buffer): FieldDescription[] {
  const r = open(frame, BackendCode.RowDescription);
  const n = r.uint16();
  // Each field takes at least 19 bytes: reject impossible counts before allocating.
  if (r.remaining < n * 19) throw malformed('insufficient data left in message');
  const fields = new Array<FieldDescription>(n);
  for (let i = 0; i < n; i++) {
    fields[i] = {
      name: r.cstring(),
      tableOID: r.uint32(),
      columnAttr: r.int16(),
      dataTypeOID: r.uint32(),
      typeSize: r.int16(),
      typeModifier: r.int32(),
      format: r.int16(),
    };
  }
  r.expectEnd();
  return fields;
}

/** DataRow cells as zero-copy subarrays of the frame (null = SQL NULL). */
export function decodeDataRow(frame: Buffer): (Buffer | null)[] {
  const r = open(frame, BackendCode.DataRow);
  const n = r.uint16();
  if (r.remaining < n * 4) throw malformed('insufficient data left in message');
  const cells = new Array<Buffer | null>(n);
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    if (len === -1) cells[i] = null;
    else if (len < 0) throw malformed(`invalid field length ${len}`);
    else cells[i] = r.bytes(len);
  }
  r.expectEnd();
  return cells;
}

/** The command tag, e.g. 'SELECT 1', 'INSERT 0 5'. */
/**
 * decodeDataRow for a frame lying at `buf[start, end)` (a FrameView), without a Buffer per value:
 * `map` gets each non-null value as its byte range of `buf`. Same checks as decodeDataRow.
 */
export function mapDataRow<T>(
  buf: Buffer,
  start: number,
  end: number,
  map: (buf: Buffer, from: number, to: number, column: number) => T,
): (T | null)[] {
  if (end - start < 7 || buf[start] !== BackendCode.DataRow) {
    // Not a DataRow, or too short for one: decodeDataRow's error says which.
    decodeDataRow(buf.subarray(start, end));
    throw malformed('invalid message format');
  }
  const n = buf.readUInt16BE(start + 5);
  let p = start + 7;
  if (end - p < n * 4) throw malformed('insufficient data left in message');
  const cells = new Array<T | null>(n);
  for (let i = 0; i < n; i++) {
    if (p + 4 > end) throw malformed('insufficient data left in message');
    const len = buf.readInt32BE(p);
    p += 4;
    if (len === -1) cells[i] = null;
    else if (len < 0) throw malformed(`invalid field length ${len}`);
    else if (p + len > end) throw malformed('insufficient data left in message');
    else {
      cells[i] = map(buf, p, p + len, i);
      p += len;
    }
  }
  if (p !== end) throw malformed('invalid message format');
  return cells;
}

export function decodeCommandComplete(frame: Buffer): string {
  const r = open(frame, BackendCode.CommandComplete);
  const tag = r.cstring();
  r.expectEnd();
  return tag;
}

function decodeFields(r: BufferReader): NoticeFields {
  const fields: NoticeFields = { severity: '', code: '', message: '' };
  for (let t = r.byte(); t !== 0; t = r.byte()) {
    const value = r.cstring();
    const name = FIELD_NAME_BY_CODE[t];
    // Unknown field types are ignored, as the protocol asks of frontends.
    if (name !== undefined) fields[name] = value;
  }
  r.expectEnd();
  return fields;
}

export function decodeErrorResponse(frame: Buffer): NoticeFields {
  return decodeFields(open(frame, BackendCode.ErrorResponse));
}

export function decodeNoticeResponse(frame: Buffer): NoticeFields {
  return decodeFields(open(frame, BackendCode.NoticeResponse));
}

export function decodeReadyForQuery(frame: Buffer): TransactionStatus {
  const r = open(frame, BackendCode.ReadyForQuery);
  const s = r.byte();
  r.expectEnd();
  if (s === 0x49) return 'I';
  if (s === 0x54) return 'T';
  if (s === 0x45) return 'E';
  throw malformed(`invalid transaction status ${s}`);
}

export function decodeParameterStatus(frame: Buffer): ParameterStatus {
  const r = open(frame, BackendCode.ParameterStatus);
  const name = r.cstring();
  const value = r.cstring();
  r.expectEnd();
  return { name, value };
}

export function decodeBackendKeyData(frame: Buffer): BackendKeyData {
  const r = open(frame, BackendCode.BackendKeyData);
  const processId = r.int32();
  if (r.remaining < 4 || r.remaining > 256) throw malformed('invalid cancel key length');
  const secretKeyBytes = r.rest();
  return { processId, secretKey: secretKeyBytes.readInt32BE(0), secretKeyBytes };
}

export function decodeNotificationResponse(frame: Buffer): NotificationResponse {
  const r = open(frame, BackendCode.NotificationResponse);
  const processId = r.int32();
  const channel = r.cstring();
  const payload = r.cstring();
  r.expectEnd();
  return { processId, channel, payload };
}

/** Parameter type OIDs. */
export function decodeParameterDescription(frame: Buffer): number[] {
  const r = open(frame, BackendCode.ParameterDescription);
  const n = r.uint16();
  if (r.remaining !== n * 4) throw malformed();
  const oids = new Array<number>(n);
  for (let i = 0; i < n; i++) oids[i] = r.uint32();
  return oids;
}

/** CopyInResponse ('G'), CopyOutResponse ('H') or CopyBothResponse ('W'). */
export function decodeCopyResponse(frame: Buffer): CopyResponse {
  const code = frame[0];
  const r = open(
    frame,
    code === BackendCode.CopyOutResponse || code === BackendCode.CopyBothResponse ? code : BackendCode.CopyInResponse,
  );
  const format = r.byte();
  const n = r.uint16();
  if (r.remaining !== n * 2) throw malformed();
  const columnFormats = new Array<number>(n);
  for (let i = 0; i < n; i++) columnFormats[i] = r.int16();
  return { format, columnFormats };
}

export function decodeNegotiateProtocolVersion(frame: Buffer): NegotiateProtocolVersion {
  const r = open(frame, BackendCode.NegotiateProtocolVersion);
  const newestMinor = r.int32();
  const n = r.int32();
  if (n < 0 || r.remaining < n) throw malformed();
  const unrecognizedOptions = new Array<string>(n);
  for (let i = 0; i < n; i++) unrecognizedOptions[i] = r.cstring();
  r.expectEnd();
  return { newestMinor, unrecognizedOptions };
}
