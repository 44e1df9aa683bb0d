import { BackendCode } from './backend-messages.js';
import { ChunkQueue, type FrameView } from './chunk-queue.js';
import { ProtocolViolation } from './protocol-violation.js';
import { SqlState } from './sqlstate.js';

export interface BackendSplitterOptions {
  /**
   * Largest message accepted, as its length field counts it. Default 1 GiB + 64 KiB: a server may
   * legitimately send a DataRow holding a 1 GB value. Larger claims fail with SQLSTATE 54000 as soon
   * as the header arrives.
   */
  maxMessageSize?: number;
}

export const DEFAULT_MAX_BACKEND_MESSAGE_SIZE = 1024 * 1024 * 1024 + 64 * 1024;

/**
 * A 256-entry table indexed by message type byte, 1 for each of `types` (type bytes or
 * one-character strings such as 'Z'): a type test on the per-message path is one array read.
 */
export function typeTable(types: readonly (number | string)[]): Uint8Array {
  const t = new Uint8Array(256);
  for (const type of types) t[typeByte(type)] = 1;
  return t;
}

function typeByte(type: number | string): number {
  return typeof type === 'number' ? type : type.charCodeAt(0);
}

const KNOWN = typeTable(Object.values(BackendCode));

/**
 * A 256-entry type table for {@link BackendSplitter.readRun}: every backend message type, except
 * those in `except` (type bytes or one-character strings such as 'Z').
 */
export function frameTypes(except: readonly (number | string)[] = []): Uint8Array {
  const t = KNOWN.slice();
  for (const e of except) t[typeByte(e)] = 0;
  return t;
}

/**
 * Splits a backend (server → client) byte stream into whole message frames without decoding
 * them: each frame is a Buffer holding type byte, length and body (`frame[0]` is the type),
 * a zero-copy subarray of the pushed chunk unless the message straddled chunks. Decode the ones
 * you need with the `decode*` functions.
 *
 * Same pull model and length rules as {@link FrontendParser}: unknown types, lengths below 4 or
 * above `maxMessageSize` throw a fatal, sticky {@link ProtocolViolation} as soon as the header is
 * visible; nothing is allocated from a claimed length.
 *
 * Only framed messages: the single-byte answer to SSLRequest/GSSENCRequest must be consumed
 * before pushing anything here.
 */
export class BackendSplitter {
  private readonly queue = new ChunkQueue();
  private readonly maxMessageSize: number;
  private error: ProtocolViolation | null = null;

  constructor(options: BackendSplitterOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_BACKEND_MESSAGE_SIZE;
  }

  /** Bytes pushed but not yet returned as frames. */
  get bufferedLength(): number {
    return this.queue.length;
  }

  /** Stops referring to the chunks pushed so far (see ChunkQueue.detach): their owner reuses them. */
  detach(): void {
    this.queue.detach();
  }

  /** Hand over the next chunk. It is not copied: do not reuse it. */
  push(chunk: Buffer): void {
    // After a fatal violation the data is dropped, not thrown on: push() usually runs in a socket
    // 'data' listener, where a throw would be an uncaught exception. read() keeps reporting it.
    if (this.error) return;
    this.queue.push(chunk);
  }

  /** The next whole frame, or null when more bytes are needed. */
  read(): Buffer | null {
    const size = this.nextFrameSize();
    return size === 0 ? null : this.queue.take(size);
  }

  /**
   * read() without a Buffer per frame, for code that looks at every frame of a busy stream:
   * positions `view` on the next whole frame (type byte, length and body) and returns true, or
   * false when more bytes are needed. The frame's bytes are valid until the next call.
   */
  next(view: FrameView): boolean {
    const size = this.nextFrameSize();
    if (size === 0) return false;
    this.queue.takeInto(size, view);
    return true;
  }

  /** Size of the whole frame at the read position, 0 while it is incomplete; throws on a bad header. */
  private nextFrameSize(): number {
    if (this.error) throw this.error;
    const q = this.queue;
    const avail = q.length;
    if (avail === 0) return 0;
    const code = q.byteAt(0);
    if (KNOWN[code] === 0) throw this.fail(`invalid backend message type ${code}`, SqlState.PROTOCOL_VIOLATION);
    if (avail < 5) return 0;
    const len = q.int32At(1);
    if (len < 4) throw this.fail(`invalid message length ${len}`, SqlState.PROTOCOL_VIOLATION);
    if (len > this.maxMessageSize) {
      throw this.fail(
        `message of ${len} bytes exceeds the limit of ${this.maxMessageSize} bytes`,
        SqlState.PROGRAM_LIMIT_EXCEEDED,
      );
    }
    return avail <= len ? 0 : len + 1;
  }

  /**
   * For relaying: the longest run of consecutive complete frames whose types are all in `pass`,
   * as one zero-copy Buffer to forward in a single write, or null when the next frame is not in
   * `pass`, is incomplete, or straddles chunks — then use `read()` for it. Build `pass` with
   * {@link frameTypes} (e.g. every type except ReadyForQuery and ErrorResponse, which the caller
   * wants to look at).
   */
  readRun(pass: Uint8Array): Buffer | null {
    if (this.error) throw this.error;
    const n = this.queue.runLength(KNOWN, pass, this.maxMessageSize);
    return n === 0 ? null : this.queue.take(n);
  }

  /** Push a chunk and return every complete frame (convenience). */
  split(chunk: Buffer): Buffer[] {
    this.push(chunk);
    const out: Buffer[] = [];
    for (let f = this.read(); f !== null; f = this.read()) out.push(f);
    return out;
  }

  private fail(message: string, code: string): ProtocolViolation {
    this.error = new ProtocolViolation(message, code, true);
    this.queue.clear();
    return this.error;
  }
}
