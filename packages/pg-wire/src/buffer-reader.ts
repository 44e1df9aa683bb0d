import { isUtf8 } from 'node:buffer';
import { ProtocolViolation, malformed } from './protocol-violation.js';
import { SqlState } from './sqlstate.js';

const EMPTY = Buffer.alloc(0);

/**
 * Bounds-checked big-endian reader over one message (or any Buffer).
 *
 * Reuse one instance with `reset()` instead of allocating per message. Every read past the end
 * throws a non-fatal {@link ProtocolViolation} ("insufficient data left in message"), never a
 * RangeError. `bytes()` returns zero-copy subarrays of the underlying buffer.
 */
export class BufferReader {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private end = 0;

  /** When true, `cstring()` rejects strings that are not valid UTF-8 (SQLSTATE 22021). */
  strictUtf8: boolean;

  constructor(strictUtf8 = false) {
    this.strictUtf8 = strictUtf8;
  }

  /** Read `buf` from `offset` up to `end` (default: the end of `buf`). */
  reset(buf: Buffer, offset = 0, end = buf.length): this {
    this.buf = buf;
    this.pos = offset;
    this.end = end;
    return this;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): void {
    if (this.end - this.pos < n) throw malformed('insufficient data left in message');
  }

  byte(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A NUL-terminated string (the terminator is consumed, not returned). */
  cstring(): string {
    const start = this.pos;
    const z = this.buf.indexOf(0, start);
    if (z < 0 || z >= this.end) throw malformed('invalid string in message');
    this.pos = z + 1;
    if (z === start) return '';
    const s = this.buf.toString('utf8', start, z);
    // Invalid UTF-8 always decodes to U+FFFD: only then is the exact (costlier) check needed.
    if (this.strictUtf8 && s.includes('\uFFFD') && !isUtf8(this.buf.subarray(start, z))) {
      throw new ProtocolViolation(
        'invalid byte sequence for encoding "UTF8"',
        SqlState.CHARACTER_NOT_IN_REPERTOIRE,
        false,
      );
    }
    return s;
  }

  /** `n` bytes as a zero-copy subarray. */
  bytes(n: number): Buffer {
    if (n < 0) throw malformed('invalid length in message');
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Everything left, zero-copy. */
  rest(): Buffer {
    const b = this.buf.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }

  /** Postgres' pq_getmsgend(): the message must be fully consumed. */
  expectEnd(): void {
    if (this.pos !== this.end) throw malformed('invalid message format');
  }
}
