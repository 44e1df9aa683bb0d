import {
  AuthCode,
  BackendCode,
  NOTICE_FIELD_CODES,
  type FieldDescription,
  type NoticeFields,
  type TransactionStatus,
} from './backend-messages.js';
import { BufferWriter } from './buffer-writer.js';

const writer = new BufferWriter(256);

function empty(code: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = code;
  b.writeInt32BE(4, 1);
  return b;
}

// Constant messages are shared instances: never mutate what these functions return.
const PARSE_COMPLETE = empty(BackendCode.ParseComplete);
const BIND_COMPLETE = empty(BackendCode.BindComplete);
const CLOSE_COMPLETE = empty(BackendCode.CloseComplete);
const NO_DATA = empty(BackendCode.NoData);
const PORTAL_SUSPENDED = empty(BackendCode.PortalSuspended);
const EMPTY_QUERY = empty(BackendCode.EmptyQueryResponse);
const COPY_DONE = empty(BackendCode.CopyDone);
const READY: Record<TransactionStatus, Buffer> = {
  I: Buffer.from([BackendCode.ReadyForQuery, 0, 0, 0, 5, 0x49]),
  T: Buffer.from([BackendCode.ReadyForQuery, 0, 0, 0, 5, 0x54]),
  E: Buffer.from([BackendCode.ReadyForQuery, 0, 0, 0, 5, 0x45]),
};
const AUTH_OK = Buffer.from([BackendCode.Authentication, 0, 0, 0, 8, 0, 0, 0, AuthCode.Ok]);
const AUTH_CLEARTEXT = Buffer.from([BackendCode.Authentication, 0, 0, 0, 8, 0, 0, 0, AuthCode.CleartextPassword]);
const SSL_ACCEPT = Buffer.from('S');
const SSL_REJECT = Buffer.from('N');

/** A RowDescription column; everything but name and type defaults (0, -1 sizes, text). */
export type FieldDescriptionInput = Pick<FieldDescription, 'name' | 'dataTypeOID'> & Partial<FieldDescription>;

function notice(code: number, fields: NoticeFields): Buffer {
  writer.startMessage(code);
  for (const [name, fieldCode] of NOTICE_FIELD_CODES) {
    let value = fields[name];
    if (value === undefined && name === 'severityNonLocalized') value = fields.severity;
    if (value === undefined) continue;
    writer.byte(fieldCode).cstring(value);
  }
  writer.byte(0);
  return writer.endMessage().finish();
}

function authWithData(sub: number, data: Uint8Array): Buffer {
  return writer.startMessage(BackendCode.Authentication).int32(sub).bytes(data).endMessage().finish();
}

/**
 * Builds backend (server → client) messages, for the gateway to answer clients itself and for
 * re-framing masked rows. Each function returns one complete message; constant messages
 * (ParseComplete, ReadyForQuery, …) are shared Buffers that must not be mutated. Strings are
 * written as UTF-8 with embedded NULs removed.
 */
export const BackendSerializer = {
  /** The single-byte answer to SSLRequest / GSSENCRequest: 'S' (go ahead with TLS) or 'N'. */
  sslResponse(accept: boolean): Buffer {
    return accept ? SSL_ACCEPT : SSL_REJECT;
  },

  authenticationOk(): Buffer {
    return AUTH_OK;
  },

  authenticationCleartextPassword(): Buffer {
    return AUTH_CLEARTEXT;
  },

  authenticationMD5Password(salt: Uint8Array): Buffer {
    if (salt.length !== 4) throw new RangeError('MD5 salt must be 4 bytes');
    return authWithData(AuthCode.MD5Password, salt);
  },

  authenticationSASL(mechanisms: readonly string[]): Buffer {
    writer.startMessage(BackendCode.Authentication).int32(AuthCode.SASL);
    for (const m of mechanisms) writer.cstring(m);
    return writer.byte(0).endMessage().finish();
  },

  authenticationSASLContinue(data: Uint8Array): Buffer {
    return authWithData(AuthCode.SASLContinue, data);
  },

  authenticationSASLFinal(data: Uint8Array): Buffer {
    return authWithData(AuthCode.SASLFinal, data);
  },

  parameterStatus(name: string, value: string): Buffer {
    return writer.startMessage(BackendCode.ParameterStatus).cstring(name).cstring(value).endMessage().finish();
  },

  /** Both values are written as 32-bit integers (signed or unsigned input alike). */
  backendKeyData(processId: number, secretKey: number): Buffer {
    return writer
      .startMessage(BackendCode.BackendKeyData)
      .int32(processId | 0)
      .int32(secretKey | 0)
      .endMessage()
      .finish();
  },

  readyForQuery(status: TransactionStatus): Buffer {
    return READY[status];
  },

  /** ErrorResponse; V (non-localized severity) defaults to `severity`. */
  errorResponse(fields: NoticeFields): Buffer {
    return notice(BackendCode.ErrorResponse, fields);
  },

  noticeResponse(fields: NoticeFields): Buffer {
    return notice(BackendCode.NoticeResponse, fields);
  },

  commandComplete(tag: string): Buffer {
    return writer.startMessage(BackendCode.CommandComplete).cstring(tag).endMessage().finish();
  },

  emptyQueryResponse(): Buffer {
    return EMPTY_QUERY;
  },

  rowDescription(fields: readonly FieldDescriptionInput[]): Buffer {
    writer.startMessage(BackendCode.RowDescription).int16(fields.length);
    for (const f of fields) {
      writer
        .cstring(f.name)
        .uint32(f.tableOID ?? 0)
        .int16(f.columnAttr ?? 0)
        .uint32(f.dataTypeOID)
        .int16(f.typeSize ?? -1)
        .int32(f.typeModifier ?? -1)
        .int16(f.format ?? 0);
    }
    return writer.endMessage().finish();
  },

  /**
   * DataRow from cells (null = SQL NULL), sized exactly in one allocation: the way to re-frame a
   * row whose cells were masked, with correct cell and message lengths.
   */
  dataRow(cells: readonly (Uint8Array | null)[]): Buffer {
    const n = cells.length;
    let len = 6 + 4 * n;
    for (let i = 0; i < n; i++) {
      const c = cells[i];
      if (c) len += c.length;
    }
    const out = Buffer.allocUnsafe(len + 1);
    out[0] = BackendCode.DataRow;
    out.writeInt32BE(len, 1);
    out.writeUInt16BE(n, 5);
    let pos = 7;
    for (let i = 0; i < n; i++) {
      const c = cells[i];
      if (c) {
        out.writeInt32BE(c.length, pos);
        out.set(c, pos + 4);
        pos += 4 + c.length;
      } else {
        out.writeInt32BE(-1, pos);
        pos += 4;
      }
    }
    return out;
  },

  parseComplete(): Buffer {
    return PARSE_COMPLETE;
  },

  bindComplete(): Buffer {
    return BIND_COMPLETE;
  },

  closeComplete(): Buffer {
    return CLOSE_COMPLETE;
  },

  noData(): Buffer {
    return NO_DATA;
  },

  portalSuspended(): Buffer {
    return PORTAL_SUSPENDED;
  },

  parameterDescription(typeOids: readonly number[]): Buffer {
    writer.startMessage(BackendCode.ParameterDescription).int16(typeOids.length);
    for (const oid of typeOids) writer.uint32(oid);
    return writer.endMessage().finish();
  },

  notificationResponse(processId: number, channel: string, payload: string): Buffer {
    return writer
      .startMessage(BackendCode.NotificationResponse)
      .int32(processId | 0)
      .cstring(channel)
      .cstring(payload)
      .endMessage()
      .finish();
  },

  /** CopyInResponse: format 0 text / 1 binary, one format per column. */
  copyInResponse(format: number, columnFormats: readonly number[]): Buffer {
    writer.startMessage(BackendCode.CopyInResponse).byte(format).int16(columnFormats.length);
    for (const f of columnFormats) writer.int16(f);
    return writer.endMessage().finish();
  },

  copyOutResponse(format: number, columnFormats: readonly number[]): Buffer {
    writer.startMessage(BackendCode.CopyOutResponse).byte(format).int16(columnFormats.length);
    for (const f of columnFormats) writer.int16(f);
    return writer.endMessage().finish();
  },

  copyData(data: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(5 + data.length);
    out[0] = BackendCode.CopyData;
    out.writeInt32BE(4 + data.length, 1);
    out.set(data, 5);
    return out;
  },

  copyDone(): Buffer {
    return COPY_DONE;
  },

  /** NegotiateProtocolVersion: the newest minor version supported and the `_pq_.` options not recognized. */
  negotiateProtocolVersion(newestMinor: number, unrecognizedOptions: readonly string[]): Buffer {
    writer.startMessage(BackendCode.NegotiateProtocolVersion).int32(newestMinor).int32(unrecognizedOptions.length);
    for (const o of unrecognizedOptions) writer.cstring(o);
    return writer.endMessage().finish();
  },
} as const;
