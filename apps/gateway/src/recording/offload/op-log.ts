/**
 * The record of what recorded sessions did, as the gateway's event loop hands it to the
 * recording worker: a flat byte log of operations, appended to with a copy and a few integer
 * writes per relayed message, and transferred (not copied) to the worker. Every operation is
 *
 *   u8 op | u32 session handle | f64 time (ms since the epoch) | u32 length | payload
 *
 * with the payload per op as below. Little-endian throughout.
 */
export const Op = {
  /** JSON {sessionId, maxRows, maxBytes}: a Postgres session's recording begins. */
  open: 1,
  /** u32 token | JSON {d, k, p}: one event as recorded by the gateway itself (start, reviews). */
  event: 2,
  /** u32 token | u32 decision length | decision JSON | the client's message, one whole frame. */
  client: 3,
  /** Bytes from the server exactly as the client received them (any split). */
  server: 4,
  /** JSON SessionEndPayload: the session ended; its chain is closed and reported back. */
  end: 5,
  /** u32 request id: report everything recorded so far (shutdown, tests). */
  flush: 6,
  /** u32 rows | f64 bytes: data rows the client received past the capture cap, left out of the log (RowCapFilter). */
  skipped: 7,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

const HEADER = 1 + 4 + 8 + 4;
const INITIAL_CAPACITY = 128 * 1024;
const MAX_SPARE = 8;

/** Appends operations to a buffer that is handed over whole (see take()). */
export class OpLogWriter {
  private buf: Buffer;
  /** The same bytes as `buf`: DataView's setters compile to plain stores, Buffer's write methods validate. */
  private view: DataView;
  private pos = 0;
  /**
   * Logs the reader handed back, reused instead of allocating: a fresh one every few
   * milliseconds, freed on another thread, fragmented the allocator (measured: +40 MB of RSS
   * over a 1 GiB COPY).
   */
  private readonly spare: ArrayBuffer[] = [];

  constructor() {
    this.buf = Buffer.allocUnsafeSlow(INITIAL_CAPACITY);
    this.view = viewOf(this.buf);
  }

  /** Bytes written since the last take(). */
  get size(): number {
    return this.pos;
  }

  bytes(op: OpCode, handle: number, time: number, data: Uint8Array): void {
    this.header(op, handle, time, data.byteLength);
    this.buf.set(data, this.pos);
    this.pos += data.byteLength;
  }

  /** An op whose payload is `buf[start, end)`. */
  range(op: OpCode, handle: number, time: number, buf: Buffer, start: number, end: number): void {
    this.header(op, handle, time, end - start);
    // Most ranges are a whole chunk: set() takes it without the argument checks copy() makes.
    this.buf.set(start === 0 && end === buf.length ? buf : buf.subarray(start, end), this.pos);
    this.pos += end - start;
  }

  skipped(handle: number, time: number, rows: number, bytes: number): void {
    this.header(Op.skipped, handle, time, 12);
    this.view.setUint32(this.pos, rows, true);
    this.view.setFloat64(this.pos + 4, bytes, true);
    this.pos += 12;
  }

  text(op: OpCode, handle: number, time: number, text: string): void {
    const length = Buffer.byteLength(text);
    this.header(op, handle, time, length);
    this.pos += this.buf.write(text, this.pos);
  }

  /** An op whose payload is a u32 and a text (event: token and JSON). */
  numberedText(op: OpCode, handle: number, time: number, n: number, text: string): void {
    const length = Buffer.byteLength(text);
    this.header(op, handle, time, 4 + length);
    this.view.setUint32(this.pos, n, true);
    this.pos += 4;
    this.pos += this.buf.write(text, this.pos);
  }

  client(handle: number, time: number, token: number, decisionJson: string, frame: Uint8Array): void {
    const decisionLength = decisionJson ? Buffer.byteLength(decisionJson) : 0;
    this.header(Op.client, handle, time, 8 + decisionLength + frame.byteLength);
    this.view.setUint32(this.pos, token, true);
    this.view.setUint32(this.pos + 4, decisionLength, true);
    this.pos += 8;
    if (decisionLength) this.pos += this.buf.write(decisionJson, this.pos);
    this.buf.set(frame, this.pos);
    this.pos += frame.byteLength;
  }

  /** Hands over what was written (to be transferred) and starts an empty log. */
  take(): { log: ArrayBuffer; length: number } {
    const taken = { log: this.buf.buffer as ArrayBuffer, length: this.pos };
    const reuse = this.spare.pop();
    this.buf = reuse ? Buffer.from(reuse) : Buffer.allocUnsafeSlow(INITIAL_CAPACITY);
    this.view = viewOf(this.buf);
    this.pos = 0;
    return taken;
  }

  /** Takes back a log the reader has applied and no longer refers to (RecordingPipeline.consume). */
  recycle(log: ArrayBuffer): void {
    if (log.byteLength === INITIAL_CAPACITY && this.spare.length < MAX_SPARE) this.spare.push(log);
  }

  private header(op: OpCode, handle: number, time: number, length: number): void {
    const needed = this.pos + HEADER + length;
    if (needed > this.buf.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(needed, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, this.pos);
      this.buf = grown;
      this.view = viewOf(grown);
    }
    const view = this.view;
    const pos = this.pos;
    view.setUint8(pos, op);
    view.setUint32(pos + 1, handle, true);
    view.setFloat64(pos + 5, time, true);
    view.setUint32(pos + 13, length, true);
    this.pos = pos + HEADER;
  }
}

function viewOf(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** One operation: its payload lies at `log[start, end)`, passed as offsets rather than a Buffer of its own. */
export type OpVisitor = (op: number, handle: number, time: number, log: Buffer, start: number, end: number) => void;

/** Calls `visit` for each operation in a log, in order. */
export function readOps(log: Buffer, visit: OpVisitor): void {
  let pos = 0;
  while (pos + HEADER <= log.length) {
    const op = log[pos]!;
    const handle = log.readUInt32LE(pos + 1);
    const time = log.readDoubleLE(pos + 5);
    const length = log.readUInt32LE(pos + 13);
    pos += HEADER;
    visit(op, handle, time, log, pos, pos + length);
    pos += length;
  }
}
