/**
 * Growable big-endian writer for building protocol messages.
 *
 * Several messages can be appended to one writer (`startMessage()` … `endMessage()` pairs, each
 * patching its own length), and `finish()` hands the bytes out without copying and starts a fresh
 * buffer, so a whole answer (e.g. AuthenticationOk + ParameterStatus… + ReadyForQuery) can go out
 * in a single socket write.
 *
 * Strings given to `cstring()` must not contain NUL: they are stripped (a NUL would end the
 * string early on the wire and let the rest be read as other fields).
 */
export class BufferWriter {
  private buf: Buffer;
  private pos = 0;
  private msgStart = -1;
  private readonly initialSize: number;

  constructor(initialSize = 256) {
    this.initialSize = initialSize;
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  uint16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }

  /** A UTF-8 string followed by a NUL terminator (embedded NULs are removed). */
  cstring(s: string): this {
    if (s.includes('\0')) s = s.replaceAll('\0', '');
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(n + 1);
    this.pos += this.buf.write(s, this.pos, n, 'utf8');
    this.buf[this.pos++] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Begin a typed message: type byte + length placeholder. */
  startMessage(code: number): this {
    this.ensure(5);
    this.msgStart = this.pos;
    this.buf[this.pos] = code;
    this.pos += 5;
    return this;
  }

  /** Patch the length of the message begun by the last `startMessage()`. */
  endMessage(): this {
    if (this.msgStart < 0) throw new Error('BufferWriter.endMessage() without startMessage()');
    this.buf.writeInt32BE(this.pos - this.msgStart - 1, this.msgStart + 1);
    this.msgStart = -1;
    return this;
  }

  /** The bytes written so far (no copy); the writer starts over with a new buffer. */
  finish(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.initialSize);
    this.pos = 0;
    this.msgStart = -1;
    return out;
  }
}
