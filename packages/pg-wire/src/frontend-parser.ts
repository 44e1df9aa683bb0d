import { BufferReader } from './buffer-reader.js';
import { ChunkQueue } from './chunk-queue.js';
import { BUDGETED_MESSAGE_FROM, type MessageBudget } from './message-budget.js';
import {
  FrontendCode,
  StartupCode,
  type AuthResponseMessage,
  type FrontendMessage,
  type SASLInitialResponse,
  type StartupPhaseMessage,
  type TerminateMessage,
  type TypedFrontendMessage,
} from './frontend-messages.js';
import { ProtocolViolation, malformed } from './protocol-violation.js';
import { SqlState } from './sqlstate.js';

export interface FrontendParserOptions {
  /** Start in the startup phase (default) or directly in the normal (typed-message) phase. */
  phase?: 'startup' | 'normal';
  /**
   * Largest typed message accepted, as its length field counts it (the body plus the 4 length
   * bytes). Default 64 MiB. Larger claims fail with SQLSTATE 54000 as soon as the header arrives.
   */
  maxMessageSize?: number;
  /** Largest startup-phase packet (length field value). Default 10 KiB. */
  maxStartupPacketSize?: number;
  /**
   * Reject strings (query text, names, startup parameters…) that are not valid UTF-8, with
   * SQLSTATE 22021. Default true: policy reads the text as UTF-8, so bytes that a non-UTF-8
   * client_encoding would read differently must not pass.
   */
  strictUtf8?: boolean;
  /**
   * A byte budget shared with other parsers (all client connections of a process). Typed messages
   * over 64 KiB reserve their claimed size in it when their header arrives and fail with SQLSTATE
   * 54000 when it would not fit (fatal, as an oversized message). Such a message is then assembled
   * in a buffer of exactly its size as its bytes arrive (one copy, no chunk list), and its
   * reservation lasts until the reader releases it: see handOff() and dispose().
   */
  budget?: MessageBudget;
}

export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
export const DEFAULT_MAX_STARTUP_PACKET_SIZE = 10 * 1024;
/** Postgres' PQ_SMALL_MESSAGE_LIMIT: Describe, Close, Execute are never larger. */
const SMALL_MESSAGE_LIMIT = 10000;
/** Postgres' PG_MAX_AUTH_TOKEN_LENGTH (plus the length field). */
const AUTH_MESSAGE_LIMIT = 65535 + 4;
/** A protocol 3.2 cancel key is at most 256 bytes. */
const MAX_CANCEL_PACKET = 12 + 256;

const enum Limit {
  Unknown = 0,
  Fixed4 = -4,
}

const sharedReader = new BufferReader(false);

/**
 * Streaming parser for what a Postgres client sends (the gateway's client side).
 *
 * Pull model: `push()` chunks as they arrive, then call `read()` until it returns null. The parser
 * holds unread bytes itself, so a caller that must stop (a statement held for review) simply
 * stops reading and pauses the socket; `bufferedLength` tells how much is waiting.
 *
 * Starts in the startup phase (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest, or a
 * Terminate from a client that gives up before its startup packet) and switches to typed messages right after a StartupMessage. Lengths are never trusted: a length
 * below the minimum, above the limits or an unknown type byte throws a fatal
 * {@link ProtocolViolation} as soon as the header is visible, before any body byte is awaited,
 * and nothing is allocated from a claimed length unless a {@link MessageBudget} admitted that
 * length first. Fatal violations are sticky.
 *
 * Before switching a connection to TLS after answering 'S' to an SSLRequest, check
 * `bufferedLength === 0`: bytes sent ahead of the handshake must be rejected, not processed as if
 * they had been encrypted (CVE-2021-23214).
 */
export class FrontendParser {
  private readonly queue = new ChunkQueue();
  private readonly reader: BufferReader;
  private readonly limits: Int32Array;
  private readonly maxMessageSize: number;
  private readonly maxStartupPacketSize: number;
  private startupPhase: boolean;
  private error: ProtocolViolation | null = null;
  private budget: MessageBudget | undefined;
  /** Budget reserved for the (large) message at the read position; 0 when none. */
  private reserved = 0;
  /** Budget of the messages read() returned and handOff() has not handed out yet. */
  private delivered = 0;
  /** The reserved message at the read position, assembled as its bytes arrive; null when none. */
  private assembly: Buffer | null = null;
  private filled = 0;

  constructor(options: FrontendParserOptions = {}) {
    this.startupPhase = (options.phase ?? 'startup') === 'startup';
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxStartupPacketSize = options.maxStartupPacketSize ?? DEFAULT_MAX_STARTUP_PACKET_SIZE;
    this.reader = new BufferReader(options.strictUtf8 ?? true);
    this.budget = options.budget;
    if (!(this.maxMessageSize >= 5) || !(this.maxStartupPacketSize >= 8)) {
      throw new RangeError('FrontendParser: maxMessageSize must be >= 5 and maxStartupPacketSize >= 8');
    }
    // Lengths are int32: anything above 2^31 - 1 means "no limit" (and must not wrap in the table).
    const max = Math.min(this.maxMessageSize, 0x7fffffff);
    const limits = new Int32Array(256);
    for (const code of [
      FrontendCode.Query,
      FrontendCode.Parse,
      FrontendCode.Bind,
      FrontendCode.CopyData,
      FrontendCode.CopyFail,
      FrontendCode.FunctionCall,
    ]) {
      limits[code] = max;
    }
    for (const code of [FrontendCode.Describe, FrontendCode.Close, FrontendCode.Execute]) {
      limits[code] = Math.min(max, SMALL_MESSAGE_LIMIT);
    }
    limits[FrontendCode.AuthResponse] = Math.min(max, AUTH_MESSAGE_LIMIT);
    for (const code of [FrontendCode.Sync, FrontendCode.Flush, FrontendCode.Terminate, FrontendCode.CopyDone]) {
      limits[code] = Limit.Fixed4;
    }
    this.limits = limits;
  }

  get phase(): 'startup' | 'normal' {
    return this.startupPhase ? 'startup' : 'normal';
  }

  /** Bytes pushed but not yet returned as messages. */
  get bufferedLength(): number {
    return this.queue.length + this.filled;
  }

  /** Budget this parser holds now: the message being assembled and messages read but not handed off. */
  get budgetHeld(): number {
    return this.reserved + this.delivered;
  }

  /**
   * Takes over the budget of the messages read() returned so far: call the function once they have
   * left (written on, dropped). Undefined when they hold none. Calling it twice releases once.
   */
  handOff(): (() => void) | undefined {
    const budget = this.budget;
    const bytes = this.delivered;
    if (!budget || bytes === 0) return undefined;
    this.delivered = 0;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      budget.release(bytes);
    };
  }

  /**
   * The connection is gone: releases the budget this parser still holds (what handOff() handed
   * out is released by its own function), drops what it buffered, and stops using the budget.
   */
  dispose(): void {
    this.budget?.release(this.reserved + this.delivered);
    this.budget = undefined;
    this.reserved = 0;
    this.delivered = 0;
    this.assembly = null;
    this.filled = 0;
    this.queue.clear();
  }

  /** Hand over the next chunk from the socket. The chunk is not copied: do not reuse it. */
  push(chunk: Buffer): void {
    // After a fatal violation the data is dropped, not thrown on: push() usually runs in a socket
    // 'data' listener, where a throw would be an uncaught exception. read() keeps reporting it.
    if (this.error) return;
    const assembly = this.assembly;
    if (assembly && this.filled < assembly.length) {
      // A large message is being assembled: its bytes go straight into its own buffer.
      const n = Math.min(assembly.length - this.filled, chunk.length);
      chunk.copy(assembly, this.filled, 0, n);
      this.filled += n;
      if (n < chunk.length) this.queue.push(chunk.subarray(n));
      return;
    }
    this.queue.push(chunk);
  }

  /** Stops referring to the chunks pushed so far (see ChunkQueue.detach): their owner reuses them. */
  detach(): void {
    this.queue.detach();
  }

  /**
   * The next complete message, or null when more bytes are needed. Throws {@link ProtocolViolation}:
   * fatal ones (framing) leave the parser failed; non-fatal ones (a malformed body, `frame` set)
   * consumed that message and the next `read()` goes on after it.
   */
  read(): FrontendMessage | null {
    if (this.error) throw this.error;
    if (this.assembly) {
      if (this.filled < this.assembly.length) return null;
      const frame = this.assembly;
      this.assembly = null;
      this.filled = 0;
      return this.deliver(frame[0]!, frame);
    }
    const q = this.queue;
    const avail = q.length;
    if (this.startupPhase) return this.readStartup(avail);
    if (avail === 0) return null;
    const code = q.byteAt(0);
    const limit = this.limits[code]!;
    if (limit === Limit.Unknown) {
      throw this.fail(`invalid frontend message type ${code}`, SqlState.PROTOCOL_VIOLATION);
    }
    if (avail < 5) return null;
    const len = q.int32At(1);
    if (len < 4) throw this.fail(`invalid message length ${len}`, SqlState.PROTOCOL_VIOLATION);
    if (limit < 0) {
      if (len !== -limit) throw this.fail(`invalid message length ${len}`, SqlState.PROTOCOL_VIOLATION);
    } else if (len > limit) {
      throw len > this.maxMessageSize
        ? this.fail(
            `message of ${len} bytes exceeds the limit of ${this.maxMessageSize} bytes`,
            SqlState.PROGRAM_LIMIT_EXCEEDED,
          )
        : this.fail(`invalid message length ${len}`, SqlState.PROTOCOL_VIOLATION);
    }
    if (this.budget && len > BUDGETED_MESSAGE_FROM && this.reserved === 0) {
      if (!this.budget.tryReserve(len + 1))
        throw this.fail(budgetRefusal(len, this.budget), SqlState.PROGRAM_LIMIT_EXCEEDED);
      this.reserved = len + 1;
    }
    if (avail <= len) {
      // Reserved, so its size is accounted for: assemble it in a buffer of that size rather than
      // keep every chunk and copy them all once it is whole (twice the memory at that moment).
      // allocUnsafe touches no page: memory grows only as bytes arrive.
      if (this.reserved) {
        this.assembly = Buffer.allocUnsafe(len + 1);
        this.filled = q.drainInto(this.assembly);
      }
      return null;
    }
    return this.deliver(code, q.take(len + 1));
  }

  private deliver(code: number, frame: Buffer): TypedFrontendMessage {
    this.delivered += this.reserved;
    this.reserved = 0;
    try {
      return this.decode(code, frame);
    } catch (e) {
      if (e instanceof ProtocolViolation) e.frame = frame;
      throw e;
    }
  }

  /** Push a chunk and return every complete message (convenience; stops at the first error). */
  parse(chunk: Buffer): FrontendMessage[] {
    this.push(chunk);
    const out: FrontendMessage[] = [];
    for (let m = this.read(); m !== null; m = this.read()) out.push(m);
    return out;
  }

  private fail(message: string, code: string): ProtocolViolation {
    this.error = new ProtocolViolation(message, code, true);
    this.queue.clear();
    this.budget?.release(this.reserved);
    this.reserved = 0;
    this.assembly = null;
    this.filled = 0;
    return this.error;
  }

  private readStartup(avail: number): StartupPhaseMessage | TerminateMessage | null {
    const q = this.queue;
    // A Terminate before any startup packet (a client giving up at once): its type byte would read
    // as an absurd packet length. The server closes such a connection without a word; returning
    // it lets the caller do the same. No valid startup packet starts with 'X' (that length is far
    // above any limit), so waiting for the fifth byte delays nothing legitimate.
    if (avail >= 1 && q.byteAt(0) === FrontendCode.Terminate) {
      if (avail < 5) return null;
      if (q.int32At(1) === 4) return { kind: 'terminate', frame: q.take(5) };
    }
    if (avail < 4) return null;
    const len = q.int32At(0);
    if (len < 8) throw this.fail(`invalid length of startup packet: ${len}`, SqlState.PROTOCOL_VIOLATION);
    if (len > this.maxStartupPacketSize) {
      throw this.fail(
        `startup packet of ${len} bytes exceeds the limit of ${this.maxStartupPacketSize} bytes`,
        SqlState.PROGRAM_LIMIT_EXCEEDED,
      );
    }
    if (avail < 8) return null;
    const request = q.int32At(4);
    if (request === StartupCode.SSLRequest || request === StartupCode.GSSENCRequest) {
      if (len !== 8) throw this.fail(`invalid length of startup packet: ${len}`, SqlState.PROTOCOL_VIOLATION);
      const frame = q.take(8);
      return request === StartupCode.SSLRequest ? { kind: 'sslRequest', frame } : { kind: 'gssEncRequest', frame };
    }
    if (request === StartupCode.CancelRequest) {
      if (len < 16 || len > MAX_CANCEL_PACKET) {
        throw this.fail(`invalid length of cancel request packet: ${len}`, SqlState.PROTOCOL_VIOLATION);
      }
      if (avail < len) return null;
      const frame = q.take(len);
      const secretKeyBytes = frame.subarray(12);
      return {
        kind: 'cancelRequest',
        frame,
        processId: frame.readInt32BE(8),
        secretKey: frame.readInt32BE(12),
        secretKeyBytes,
      };
    }
    if (request >>> 16 !== 3) {
      throw this.fail(
        `unsupported frontend protocol ${request >>> 16}.${request & 0xffff}: server supports 3.0 to 3.2`,
        SqlState.PROTOCOL_VIOLATION,
      );
    }
    if (avail < len) return null;
    const frame = q.take(len);
    const r = this.reader.reset(frame, 8);
    const parameters: Record<string, string> = Object.create(null);
    try {
      for (;;) {
        const name = r.cstring();
        if (name === '') break;
        parameters[name] = r.cstring();
      }
      r.expectEnd();
    } catch (e) {
      if (e instanceof ProtocolViolation) {
        throw this.fail(`invalid startup packet layout: ${e.message}`, e.code);
      }
      throw e;
    }
    this.startupPhase = false;
    return { kind: 'startup', frame, protocolVersion: request, parameters };
  }

  private decode(code: number, frame: Buffer): TypedFrontendMessage {
    return decodeTyped(code, frame, this.reader);
  }
}

/** Why a message did not fit in the budget, for the client (54000). */
function budgetRefusal(length: number, budget: MessageBudget): string {
  if (length + 1 > budget.limit) {
    return `message of ${length} bytes exceeds the limit of ${budget.limit} bytes for buffered client messages`;
  }
  return (
    `message of ${length} bytes does not fit in the buffer for large client messages now ` +
    `(${budget.used} of ${budget.limit} bytes in use); try again later or send less at once`
  );
}

const frameReader = new BufferReader(false);

/**
 * One whole typed message (type byte, length, body: exactly `frame`) decoded on its own, for a
 * reader that already holds messages one by one (the recording pipeline reads the frames the
 * gateway relayed). Throws ProtocolViolation when the frame is not one valid message.
 */
export function decodeFrontendFrame(frame: Buffer): TypedFrontendMessage {
  if (frame.length < 5 || frame.readInt32BE(1) !== frame.length - 1) {
    throw new ProtocolViolation('not one whole frontend message');
  }
  return decodeTyped(frame[0]!, frame, frameReader);
}

function decodeTyped(code: number, frame: Buffer, reader: BufferReader): TypedFrontendMessage {
  const r = reader.reset(frame, 5);
  switch (code) {
    case FrontendCode.Query: {
      const text = r.cstring();
      r.expectEnd();
      return { kind: 'query', frame, text };
    }
    case FrontendCode.Parse: {
      const name = r.cstring();
      const query = r.cstring();
      const n = r.uint16();
      if (r.remaining !== n * 4) throw malformed();
      const paramTypes = new Array<number>(n);
      for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
      return { kind: 'parse', frame, name, query, paramTypes };
    }
    case FrontendCode.Bind: {
      const portal = r.cstring();
      const statement = r.cstring();
      const paramFormats = readFormats(r);
      const params = readValues(r);
      if (paramFormats.length > 1 && paramFormats.length !== params.length) {
        throw malformed(`bind message has ${paramFormats.length} parameter formats but ${params.length} parameters`);
      }
      const resultFormats = readFormats(r);
      r.expectEnd();
      return { kind: 'bind', frame, portal, statement, paramFormats, params, resultFormats };
    }
    case FrontendCode.Describe:
    case FrontendCode.Close: {
      const t = r.byte();
      if (t !== 0x53 && t !== 0x50) {
        throw malformed(`invalid ${code === FrontendCode.Close ? 'CLOSE' : 'DESCRIBE'} message subtype ${t}`);
      }
      const name = r.cstring();
      r.expectEnd();
      const target = t === 0x53 ? 'S' : 'P';
      return code === FrontendCode.Close
        ? { kind: 'close', frame, target, name }
        : { kind: 'describe', frame, target, name };
    }
    case FrontendCode.Execute: {
      const portal = r.cstring();
      const maxRows = r.int32();
      r.expectEnd();
      return { kind: 'execute', frame, portal, maxRows };
    }
    case FrontendCode.Sync:
      return { kind: 'sync', frame };
    case FrontendCode.Flush:
      return { kind: 'flush', frame };
    case FrontendCode.Terminate:
      return { kind: 'terminate', frame };
    case FrontendCode.CopyData:
      return { kind: 'copyData', frame, data: frame.subarray(5) };
    case FrontendCode.CopyDone:
      return { kind: 'copyDone', frame };
    case FrontendCode.CopyFail: {
      const message = r.cstring();
      r.expectEnd();
      return { kind: 'copyFail', frame, message };
    }
    case FrontendCode.AuthResponse:
      return { kind: 'authResponse', frame, body: frame.subarray(5) };
    case FrontendCode.FunctionCall: {
      const functionOid = r.uint32();
      const argFormats = readFormats(r);
      const args = readValues(r);
      if (argFormats.length > 1 && argFormats.length !== args.length) throw malformed();
      const resultFormat = r.int16();
      r.expectEnd();
      return { kind: 'functionCall', frame, functionOid, argFormats, args, resultFormat };
    }
    default:
      // read() only passes known codes; decodeFrontendFrame's callers may not.
      throw new ProtocolViolation(`invalid frontend message type ${code}`);
  }
}

function readFormats(r: BufferReader): number[] {
  const n = r.uint16();
  if (r.remaining < n * 2) throw malformed('insufficient data left in message');
  const formats = new Array<number>(n);
  for (let i = 0; i < n; i++) formats[i] = r.int16();
  return formats;
}

function readValues(r: BufferReader): (Buffer | null)[] {
  const n = r.uint16();
  // Each value needs at least its 4-byte length: reject impossible counts before allocating.
  if (r.remaining < n * 4) throw malformed('insufficient data left in message');
  const values = new Array<Buffer | null>(n);
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    if (len === -1) values[i] = null;
    else if (len < 0) throw malformed(`invalid parameter length ${len}`);
    else values[i] = r.bytes(len);
  }
  return values;
}

/**
 * True when the first bytes of a connection are a TLS handshake record (0x16 0x03) rather than a
 * startup packet: a client using direct TLS negotiation (libpq 17 `sslnegotiation=direct`, ALPN
 * "postgresql") that skipped SSLRequest. A startup packet can never start this way (its length
 * would exceed any startup limit). Check the first chunk before pushing it to the parser.
 */
export function isTlsClientHello(firstBytes: Buffer): boolean {
  return firstBytes.length >= 2 && firstBytes[0] === 0x16 && firstBytes[1] === 0x03;
}

/** Decode a 'p' message sent in answer to AuthenticationCleartextPassword (or MD5Password). */
export function decodePassword(msg: AuthResponseMessage): string {
  const r = sharedReader.reset(msg.body);
  const password = r.cstring();
  r.expectEnd();
  return password;
}

/** Decode a 'p' message sent in answer to AuthenticationSASL. */
export function decodeSASLInitialResponse(msg: AuthResponseMessage): SASLInitialResponse {
  const r = sharedReader.reset(msg.body);
  const mechanism = r.cstring();
  const len = r.int32();
  let data: Buffer | null = null;
  if (len !== -1) data = r.bytes(len);
  r.expectEnd();
  return { mechanism, data };
}

/** Decode a 'p' message sent in answer to AuthenticationSASLContinue: the raw SASL data. */
export function decodeSASLResponse(msg: AuthResponseMessage): Buffer {
  return msg.body;
}
