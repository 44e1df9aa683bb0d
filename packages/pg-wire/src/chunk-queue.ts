const EMPTY = Buffer.alloc(0);

/**
 * Where a message lies: `buffer[start, end)`. A reader positions one view on message after
 * message (see BackendSplitter.next) instead of allocating a Buffer for each; the bytes are only
 * valid until the next read.
 */
export class FrameView {
  buffer: Buffer = EMPTY;
  start = 0;
  end = 0;

  /** The message as a Buffer of its own (zero-copy), for the decoders that take one. */
  frame(): Buffer {
    return this.buffer.subarray(this.start, this.end);
  }
}

/**
 * The unread bytes of a stream: the current chunk (from `off`) followed by a queue of later
 * chunks. Pushing is O(1) and never copies. `take(n)` returns a zero-copy subarray when the n bytes
 * sit in one chunk; only a message that straddles chunks is copied, once, into a buffer of its
 * exact size, allocated when all of its bytes have arrived (never from a claimed length).
 * Internal to the parsers.
 */
export class ChunkQueue {
  private buf: Buffer = EMPTY;
  private off = 0;
  private chunks: Buffer[] = [];
  private head = 0;
  /** Bytes in chunks[head..]. */
  private queued = 0;

  /** Unread bytes. */
  get length(): number {
    return this.buf.length - this.off + this.queued;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.off === this.buf.length && this.queued === 0) {
      this.buf = chunk;
      this.off = 0;
      return;
    }
    this.chunks.push(chunk);
    this.queued += chunk.length;
  }

  /** Byte at unread position i (caller guarantees i < length). */
  byteAt(i: number): number {
    const inBuf = this.buf.length - this.off;
    if (i < inBuf) return this.buf[this.off + i]!;
    i -= inBuf;
    for (let c = this.head; ; c++) {
      const chunk = this.chunks[c]!;
      if (i < chunk.length) return chunk[i]!;
      i -= chunk.length;
    }
  }

  /** Big-endian int32 at unread position i (caller guarantees i + 4 <= length). */
  int32At(i: number): number {
    const p = this.off + i;
    if (p + 4 <= this.buf.length) return this.buf.readInt32BE(p);
    return (this.byteAt(i) << 24) | (this.byteAt(i + 1) << 16) | (this.byteAt(i + 2) << 8) | this.byteAt(i + 3) | 0;
  }

  /**
   * Consume n unread bytes as a range of `view` instead of a Buffer of their own: the current
   * chunk itself when they lie in it, else (straddling chunks) a copy, as take() makes.
   */
  takeInto(n: number, view: FrameView): void {
    const start = this.off;
    const end = start + n;
    if (end <= this.buf.length) {
      view.buffer = this.buf;
      view.start = start;
      view.end = end;
      this.off = end;
      if (end === this.buf.length && this.queued > 0) this.advance();
      return;
    }
    view.buffer = this.take(n);
    view.start = 0;
    view.end = n;
  }

  /**
   * Copies the unread bytes (at most a partial message) into a buffer of their own and lets go
   * of every chunk pushed so far, so that their owner may reuse them.
   */
  detach(): void {
    const unread = this.length;
    const rest = unread === 0 ? EMPTY : Buffer.allocUnsafe(unread);
    if (unread > 0) {
      let filled = this.buf.copy(rest, 0, this.off);
      for (let c = this.head; c < this.chunks.length; c++) filled += this.chunks[c]!.copy(rest, filled);
    }
    this.buf = rest;
    this.off = 0;
    this.chunks = [];
    this.head = 0;
    this.queued = 0;
  }

  /**
   * Copies every unread byte into `target` from offset 0 (caller guarantees it fits), drops them
   * and lets go of every chunk; returns how many were copied.
   */
  drainInto(target: Buffer): number {
    let filled = this.buf.copy(target, 0, this.off);
    for (let c = this.head; c < this.chunks.length; c++) filled += this.chunks[c]!.copy(target, filled);
    this.clear();
    return filled;
  }

  /** Consume n unread bytes (caller guarantees n <= length). */
  take(n: number): Buffer {
    const start = this.off;
    const end = start + n;
    if (end <= this.buf.length) {
      // Slice before advance(): that replaces this.buf with the next queued chunk.
      const out = this.buf.subarray(start, end);
      this.off = end;
      if (end === this.buf.length && this.queued > 0) this.advance();
      return out;
    }
    // Straddles chunks: copy exactly this message, all of whose bytes are here.
    const out = Buffer.allocUnsafe(n);
    let filled = this.buf.copy(out, 0, start);
    while (filled < n) {
      const chunk = this.chunks[this.head]!;
      const want = n - filled;
      if (chunk.length <= want) {
        chunk.copy(out, filled);
        filled += chunk.length;
        this.queued -= chunk.length;
        this.chunks[this.head++] = EMPTY;
        this.buf = EMPTY;
        this.off = 0;
      } else {
        chunk.copy(out, filled, 0, want);
        filled = n;
        this.queued -= chunk.length;
        this.chunks[this.head++] = EMPTY;
        this.buf = chunk;
        this.off = want;
      }
    }
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    }
    if (this.off === this.buf.length && this.queued > 0) this.advance();
    return out;
  }

  /**
   * Length of the longest run of whole typed frames at the read position that lie in the current
   * chunk, whose types are flagged in both `known` and `accept`, and whose lengths are within
   * [4, maxLength] (frames: type byte + int32 length). 0 if none.
   */
  runLength(known: Uint8Array, accept: Uint8Array, maxLength: number): number {
    const buf = this.buf;
    const end = buf.length;
    let p = this.off;
    while (p + 5 <= end) {
      const code = buf[p]!;
      if (known[code] !== 1 || accept[code] !== 1) break;
      const len = buf.readInt32BE(p + 1);
      if (len < 4 || len > maxLength || p + 1 + len > end) break;
      p += 1 + len;
    }
    return p - this.off;
  }

  /** Make the next queued chunk current (the current one is exhausted). */
  private advance(): void {
    const next = this.chunks[this.head]!;
    this.chunks[this.head++] = EMPTY;
    this.queued -= next.length;
    this.buf = next;
    this.off = 0;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    }
  }

  /** Drop everything. */
  clear(): void {
    this.buf = EMPTY;
    this.off = 0;
    this.chunks = [];
    this.head = 0;
    this.queued = 0;
  }
}
