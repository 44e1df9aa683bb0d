import type {
  AgentFrame,
  Batch,
  Close,
  Credit,
  Data,
  GatewayFrame,
  Report,
  SessionFrame,
} from './gen/warden/tunnel/v1/tunnel_pb.js';

// Hand-written codec for the hot frames: Data, Credit, Close, Report and the Batch
// that carries many of them. The generic protobuf-es writer grows its buffer in steps
// and copies payloads more than once, and its reader is generic and allocation
// heavy; profiling the tunnel showed both among the largest costs per frame. Here
// every payload is copied exactly once into a buffer of the exact final size, and
// decoding allocates nothing beyond the message objects (payloads stay views into
// the received buffer).
//
// Both directions are canonical protobuf: the encoder's output is byte-identical
// to toBinary, and the decoder returns exactly what fromBinary would. Anything the
// fast paths do not recognise (other frame types, unknown fields, odd encodings)
// makes them return null, and the caller falls back to the generic codec.

/** The session-level frame bodies (shared by AgentFrame, GatewayFrame and SessionFrame). */
type SessionBody = SessionFrame['frame'];
type FastFrame = AgentFrame | GatewayFrame;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const FIELD_DATA = 4;
const FIELD_CREDIT = 5;
const FIELD_CLOSE = 6;
const FIELD_REPORT = 11;
const FIELD_BATCH = 10;
const TAG_BATCH = (FIELD_BATCH << 3) | WIRE_LEN;
const TAG_BATCH_FRAME = (1 << 3) | WIRE_LEN;
const TAG_SESSION_ID = (1 << 3) | WIRE_LEN;
const TAG_PAYLOAD = (2 << 3) | WIRE_LEN;
const TAG_CREDIT_BYTES = (2 << 3) | WIRE_VARINT;
const TAG_CLOSE_ABORT = (2 << 3) | WIRE_VARINT;
const TAG_CLOSE_REASON = (3 << 3) | WIRE_LEN;
const TAG_CLOSE_CODE = (4 << 3) | WIRE_LEN;
const TAG_REPORT_KIND = (2 << 3) | WIRE_LEN;
const TAG_REPORT_PAYLOAD = (3 << 3) | WIRE_LEN;
const MAX_UINT32 = 0xffff_ffff;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Size of a length-delimited field holding `len` bytes; proto3 leaves out empty ones. */
const lenFieldSize = (len: number): number => (len > 0 ? 1 + varintSize(len) + len : 0);

// ---- encoding ----

// Sizes computed in the first pass, reused by the second (strings are measured once).
// Encoding is synchronous, so one module-level scratch array is safe.
let scratch: number[] = [];

/**
 * Size of the message inside a session frame body (Data/Credit/Close/Report), or -1 when
 * the fast path does not handle it. Pushes the string lengths it measured onto `scratch`.
 */
function bodyInnerSize(body: SessionBody): number {
  switch (body.case) {
    case 'data': {
      const v = body.value;
      if (v.$unknown?.length) return -1;
      const idLen = Buffer.byteLength(v.sessionId, 'utf8');
      scratch.push(idLen);
      return lenFieldSize(idLen) + lenFieldSize(v.data.byteLength);
    }
    case 'credit': {
      const v = body.value;
      if (v.$unknown?.length || !Number.isInteger(v.bytes) || v.bytes < 0 || v.bytes > MAX_UINT32) return -1;
      const idLen = Buffer.byteLength(v.sessionId, 'utf8');
      scratch.push(idLen);
      return lenFieldSize(idLen) + (v.bytes > 0 ? 1 + varintSize(v.bytes) : 0);
    }
    case 'close': {
      const v = body.value;
      if (v.$unknown?.length) return -1;
      const idLen = Buffer.byteLength(v.sessionId, 'utf8');
      const reasonLen = Buffer.byteLength(v.reason, 'utf8');
      const codeLen = Buffer.byteLength(v.code, 'utf8');
      scratch.push(idLen, reasonLen, codeLen);
      return lenFieldSize(idLen) + (v.abort ? 2 : 0) + lenFieldSize(reasonLen) + lenFieldSize(codeLen);
    }
    case 'report': {
      const v = body.value;
      if (v.$unknown?.length) return -1;
      const idLen = Buffer.byteLength(v.sessionId, 'utf8');
      const kindLen = Buffer.byteLength(v.kind, 'utf8');
      scratch.push(idLen, kindLen);
      return lenFieldSize(idLen) + lenFieldSize(kindLen) + lenFieldSize(v.payload.byteLength);
    }
    default:
      return -1;
  }
}

function writeString(buf: Buffer, pos: number, tag: number, value: string, len: number): number {
  if (len === 0) return pos;
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, len);
  return pos + buf.write(value, pos, len, 'utf8');
}

/** Writes tag + length + message of a session frame body; `s` indexes the measured lengths in `scratch`. */
function writeBody(buf: Buffer, pos: number, body: SessionBody, inner: number, s: number): number {
  switch (body.case) {
    case 'data': {
      buf[pos++] = (FIELD_DATA << 3) | WIRE_LEN;
      pos = writeVarint(buf, pos, inner);
      const { sessionId, data } = body.value;
      pos = writeString(buf, pos, TAG_SESSION_ID, sessionId, scratch[s]!);
      if (data.byteLength > 0) {
        buf[pos++] = TAG_PAYLOAD;
        pos = writeVarint(buf, pos, data.byteLength);
        buf.set(data, pos);
        pos += data.byteLength;
      }
      return pos;
    }
    case 'credit': {
      buf[pos++] = (FIELD_CREDIT << 3) | WIRE_LEN;
      pos = writeVarint(buf, pos, inner);
      pos = writeString(buf, pos, TAG_SESSION_ID, body.value.sessionId, scratch[s]!);
      if (body.value.bytes > 0) {
        buf[pos++] = TAG_CREDIT_BYTES;
        pos = writeVarint(buf, pos, body.value.bytes);
      }
      return pos;
    }
    case 'close': {
      buf[pos++] = (FIELD_CLOSE << 3) | WIRE_LEN;
      pos = writeVarint(buf, pos, inner);
      const v = body.value;
      pos = writeString(buf, pos, TAG_SESSION_ID, v.sessionId, scratch[s]!);
      if (v.abort) {
        buf[pos++] = TAG_CLOSE_ABORT;
        buf[pos++] = 1;
      }
      pos = writeString(buf, pos, TAG_CLOSE_REASON, v.reason, scratch[s + 1]!);
      return writeString(buf, pos, TAG_CLOSE_CODE, v.code, scratch[s + 2]!);
    }
    case 'report': {
      // The tag of field 11 still fits in one byte (11 << 3 | 2 = 90).
      buf[pos++] = (FIELD_REPORT << 3) | WIRE_LEN;
      pos = writeVarint(buf, pos, inner);
      const v = body.value;
      pos = writeString(buf, pos, TAG_SESSION_ID, v.sessionId, scratch[s]!);
      pos = writeString(buf, pos, TAG_REPORT_KIND, v.kind, scratch[s + 1]!);
      if (v.payload.byteLength > 0) {
        buf[pos++] = TAG_REPORT_PAYLOAD;
        pos = writeVarint(buf, pos, v.payload.byteLength);
        buf.set(v.payload, pos);
        pos += v.payload.byteLength;
      }
      return pos;
    }
    default:
      throw new Error('unreachable');
  }
}

const stringsPerBody = (body: SessionBody): number => (body.case === 'close' ? 3 : body.case === 'report' ? 2 : 1);

/**
 * Encodes a Data, Credit, Close, Report or Batch frame (of either direction), or returns
 * null for any other frame (use toBinary then).
 */
export function encodeSessionFrame(frame: FastFrame): Buffer | null {
  if (frame.$unknown?.length) return null;
  const f = frame.frame;
  scratch.length = 0;
  if (f.case === 'batch') return encodeBatch(f.value);
  if (f.case !== 'data' && f.case !== 'credit' && f.case !== 'close' && f.case !== 'report') return null;
  const inner = bodyInnerSize(f);
  if (inner < 0) return null;
  const buf = Buffer.allocUnsafe(1 + varintSize(inner) + inner);
  writeBody(buf, 0, f, inner, 0);
  return buf;
}

function encodeBatch(batch: Batch): Buffer | null {
  if (batch.$unknown?.length) return null;
  const { frames } = batch;
  const n = frames.length;
  // Per frame: inner message size and SessionFrame size, after the measured string lengths.
  const inners = new Array<number>(n);
  let batchInner = 0;
  for (let i = 0; i < n; i++) {
    const sf = frames[i]!;
    if (sf.$unknown?.length) return null;
    const inner = bodyInnerSize(sf.frame);
    if (inner < 0) return null;
    inners[i] = inner;
    const sessionFrame = 1 + varintSize(inner) + inner;
    batchInner += 1 + varintSize(sessionFrame) + sessionFrame;
  }
  const buf = Buffer.allocUnsafe(1 + varintSize(batchInner) + batchInner);
  buf[0] = TAG_BATCH;
  let pos = writeVarint(buf, 1, batchInner);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const body = frames[i]!.frame;
    const inner = inners[i]!;
    buf[pos++] = TAG_BATCH_FRAME;
    pos = writeVarint(buf, pos, 1 + varintSize(inner) + inner);
    pos = writeBody(buf, pos, body, inner, s);
    s += stringsPerBody(body);
  }
  if (scratch.length > 1024) scratch = [];
  return buf;
}

// ---- decoding ----

// Cursor of the decoder (decoding is synchronous).
let at = 0;

/** Reads a varint of at most 5 bytes (uint32 range) at `at`; -1 when malformed or out of range. */
function readVarint(buf: Buffer, end: number): number {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 5; i++) {
    if (at >= end) return -1;
    const b = buf[at++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return result <= MAX_UINT32 ? result : -1;
    mul *= 128;
  }
  return -1;
}

/** Reads a length prefix at `at` and returns the end of the field, or -1 when it does not fit. */
function readLenEnd(buf: Buffer, end: number): number {
  const len = readVarint(buf, end);
  if (len < 0 || len > end - at) return -1;
  return at + len;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
let badString = false;

/**
 * Reads a string field spanning [start, end). Like protobuf-es, invalid UTF-8 is an
 * error: it sets `badString` (the caller then returns null and fromBinary reports it).
 */
function readString(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      try {
        return utf8.decode(buf.subarray(start, end));
      } catch {
        badString = true;
        return '';
      }
    }
  }
  return buf.toString('latin1', start, end);
}

const dataTypeName = 'warden.tunnel.v1.Data';
const creditTypeName = 'warden.tunnel.v1.Credit';
const closeTypeName = 'warden.tunnel.v1.Close';
const reportTypeName = 'warden.tunnel.v1.Report';

/** Decodes the message of a session frame body spanning [at, end); null for anything unusual. */
function decodeBody(buf: Buffer, field: number, end: number): SessionBody | null {
  let sessionId = '';
  switch (field) {
    case FIELD_DATA: {
      let data: Uint8Array = EMPTY;
      while (at < end) {
        const tag = buf[at++]!;
        if (tag === TAG_SESSION_ID || tag === TAG_PAYLOAD) {
          const fieldEnd = readLenEnd(buf, end);
          if (fieldEnd < 0) return null;
          if (tag === TAG_SESSION_ID) sessionId = readString(buf, at, fieldEnd);
          else data = buf.subarray(at, fieldEnd);
          at = fieldEnd;
        } else return null;
      }
      const value: Data = { $typeName: dataTypeName, sessionId, data };
      return { case: 'data', value };
    }
    case FIELD_CREDIT: {
      let bytes = 0;
      while (at < end) {
        const tag = buf[at++]!;
        if (tag === TAG_SESSION_ID) {
          const fieldEnd = readLenEnd(buf, end);
          if (fieldEnd < 0) return null;
          sessionId = readString(buf, at, fieldEnd);
          at = fieldEnd;
        } else if (tag === TAG_CREDIT_BYTES) {
          bytes = readVarint(buf, end);
          if (bytes < 0) return null;
        } else return null;
      }
      const value: Credit = { $typeName: creditTypeName, sessionId, bytes };
      return { case: 'credit', value };
    }
    case FIELD_CLOSE: {
      let abort = false;
      let reason = '';
      let code = '';
      while (at < end) {
        const tag = buf[at++]!;
        if (tag === TAG_CLOSE_ABORT) {
          const v = readVarint(buf, end);
          if (v < 0) return null;
          abort = v !== 0;
        } else if (tag === TAG_SESSION_ID || tag === TAG_CLOSE_REASON || tag === TAG_CLOSE_CODE) {
          const fieldEnd = readLenEnd(buf, end);
          if (fieldEnd < 0) return null;
          const s = readString(buf, at, fieldEnd);
          if (tag === TAG_SESSION_ID) sessionId = s;
          else if (tag === TAG_CLOSE_REASON) reason = s;
          else code = s;
          at = fieldEnd;
        } else return null;
      }
      const value: Close = { $typeName: closeTypeName, sessionId, abort, reason, code };
      return { case: 'close', value };
    }
    case FIELD_REPORT: {
      let kind = '';
      let payload: Uint8Array = EMPTY;
      while (at < end) {
        const tag = buf[at++]!;
        if (tag !== TAG_SESSION_ID && tag !== TAG_REPORT_KIND && tag !== TAG_REPORT_PAYLOAD) return null;
        const fieldEnd = readLenEnd(buf, end);
        if (fieldEnd < 0) return null;
        if (tag === TAG_SESSION_ID) sessionId = readString(buf, at, fieldEnd);
        else if (tag === TAG_REPORT_KIND) kind = readString(buf, at, fieldEnd);
        else payload = buf.subarray(at, fieldEnd);
        at = fieldEnd;
      }
      const value: Report = { $typeName: reportTypeName, sessionId, kind, payload };
      return { case: 'report', value };
    }
    default:
      return null;
  }
}

const EMPTY = new Uint8Array(0);

/** Decodes one `tag len body` session frame field at `at`, which must be the only field before `end`. */
function decodeOnlyBody(buf: Buffer, end: number): SessionBody | null {
  const tag = buf[at++]!;
  if ((tag & 7) !== WIRE_LEN) return null;
  const bodyEnd = readLenEnd(buf, end);
  if (bodyEnd !== end) return null; // malformed, or more than one field
  return decodeBody(buf, tag >> 3, bodyEnd);
}

/**
 * Decodes a Data, Credit, Close, Report or Batch frame, or returns null for anything else
 * (use fromBinary then). `typeName` is the $typeName of the top-level message.
 */
export function decodeSessionFrame<T extends FastFrame>(bytes: Uint8Array, typeName: T['$typeName']): T | null {
  if (bytes.byteLength === 0) return null;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = buf.byteLength;
  at = 0;
  badString = false;
  if (buf[0] !== TAG_BATCH) {
    const body = decodeOnlyBody(buf, end);
    return body && !badString ? ({ $typeName: typeName, frame: body } as T) : null;
  }
  at = 1;
  const batchEnd = readLenEnd(buf, end);
  if (batchEnd !== end) return null;
  const frames: SessionFrame[] = [];
  while (at < end) {
    if (buf[at++] !== TAG_BATCH_FRAME) return null;
    const frameEnd = readLenEnd(buf, end);
    if (frameEnd < 0 || frameEnd === at) return null; // an empty SessionFrame: leave it to fromBinary
    const body = decodeOnlyBody(buf, frameEnd);
    if (!body) return null;
    frames.push({ $typeName: 'warden.tunnel.v1.SessionFrame', frame: body });
  }
  if (badString) return null;
  const batch: Batch = { $typeName: 'warden.tunnel.v1.Batch', frames };
  return { $typeName: typeName, frame: { case: 'batch', value: batch } } as T;
}
