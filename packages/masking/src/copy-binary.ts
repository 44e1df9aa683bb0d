import { isUtf8 } from 'node:buffer';
import { ProtocolViolation } from '@warden/pg-wire';
import type { BinaryValues, Masked } from './binary-values.js';
import { Syntax, type ValueMasker } from './value-masker.js';

/** "PGCOPY\n\377\r\n\0": the first 11 bytes of every binary COPY stream. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER_FIXED = SIGNATURE.length + 8; // + int32 flags + int32 header extension length
const EMPTY = Buffer.alloc(0);

/**
 * Runs the detectors over a binary `COPY … TO STDOUT (FORMAT binary)` stream, carried in any
 * number of CopyData messages: the header (signature, flags, extension), then tuples (int16
 * field count, each field as int32 length (-1 NULL) and bytes), then the trailer (field count
 * -1). COPY says nothing about column types, so each field is judged by its bytes: valid UTF-8
 * without NUL bytes is text and masked in place; anything else is decoded as an array or record
 * if it is exactly one (both start with a zero byte), else scanned as raw bytes and made NULL on
 * a finding (see {@link BinaryValues}). Only complete tuples are passed on; bytes of an
 * incomplete one wait for the next CopyData (memory: one tuple).
 */
export class BinaryCopyMasker {
  private pending: Buffer = EMPTY;
  private state: 'header' | 'tuples' | 'trailer' = 'header';

  constructor(
    private readonly values: ValueMasker,
    private readonly binary: BinaryValues,
  ) {}

  /** The payload of the next CopyData; returns the bytes to send on (possibly empty). */
  data(payload: Buffer): Buffer {
    const buf = this.pending.length === 0 ? payload : Buffer.concat([this.pending, payload]);
    const out: Buffer[] = [];
    let pos = 0;
    if (this.state === 'header') {
      if (buf.length < HEADER_FIXED) return this.wait(buf, 0, out);
      if (!buf.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw bad('invalid binary COPY signature');
      const extension = buf.readInt32BE(SIGNATURE.length + 4);
      if (extension < 0) throw bad('invalid binary COPY header');
      if (buf.length < HEADER_FIXED + extension) return this.wait(buf, 0, out);
      pos = HEADER_FIXED + extension;
      out.push(buf.subarray(0, pos));
      this.state = 'tuples';
    }
    while (this.state === 'tuples' && pos < buf.length) {
      const end = this.tuple(buf, pos, out);
      if (end < 0) break;
      pos = end;
    }
    if (this.state === 'trailer' && pos < buf.length) throw bad('data after the binary COPY trailer');
    return this.wait(buf, pos, out);
  }

  /** Keep `buf[pos…]` for the next CopyData; return what is ready. */
  private wait(buf: Buffer, pos: number, out: Buffer[]): Buffer {
    this.pending = pos === buf.length ? EMPTY : Buffer.from(buf.subarray(pos));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** Decode and mask the tuple at `pos` into `out`; its end, or -1 if it is not complete yet. */
  private tuple(buf: Buffer, pos: number, out: Buffer[]): number {
    if (buf.length - pos < 2) return -1;
    const count = buf.readInt16BE(pos);
    if (count === -1) {
      out.push(buf.subarray(pos, pos + 2));
      this.state = 'trailer';
      return pos + 2;
    }
    if (count < 0) throw bad('invalid binary COPY field count');
    // Find the fields first: nothing is masked (or counted) until the tuple is complete.
    const fields = new Array<number>(count);
    let p = pos + 2;
    for (let i = 0; i < count; i++) {
      if (buf.length - p < 4) return -1;
      const len = buf.readInt32BE(p);
      if (len < -1) throw bad('invalid binary COPY field length');
      fields[i] = p;
      p += 4 + Math.max(len, 0);
      if (p > buf.length) return -1;
    }
    let from = pos;
    for (const at of fields) {
      const len = buf.readInt32BE(at);
      if (len < 0) continue;
      const r = this.field(buf, at + 4, at + 4 + len);
      if (r === undefined) continue;
      out.push(buf.subarray(from, at));
      const word = Buffer.allocUnsafe(4);
      word.writeInt32BE(r === null ? -1 : r.length);
      out.push(r === null ? word : Buffer.concat([word, r]));
      from = at + 4 + len;
    }
    out.push(buf.subarray(from, p));
    return p;
  }

  private field(buf: Buffer, start: number, end: number): Masked {
    if (end - start >= 4 && buf[start] === 0) return this.binary.mask(0, buf, start, end);
    const bytes = buf.subarray(start, end);
    if (bytes.indexOf(0) < 0 && isUtf8(bytes)) return this.values.maskBytes(buf, start, end, Syntax.Plain);
    return this.binary.opaque(buf, start, end);
  }

  /** CopyDone (or the COPY ended otherwise): bytes of an incomplete tuple are dropped, never sent. */
  end(): void {
    this.pending = EMPTY;
  }
}

function bad(message: string): ProtocolViolation {
  return new ProtocolViolation(message, '08P01', true);
}
