import { binaryLayout } from './pg-types.js';
import { Syntax, type ValueMasker } from './value-masker.js';

/** A masked value: undefined = unchanged, null = withheld (SQL NULL), else the new bytes. */
export type Masked = Buffer | null | undefined;

/** A structure that does not parse as the layout it was tried as. */
const MALFORMED = Symbol('malformed');
type Decoded = Masked | typeof MALFORMED;

/** Postgres limits: MAXDIM dimensions, MaxTupleAttributeNumber fields. */
const MAX_DIMENSIONS = 6;
const MAX_FIELDS = 1664;
/** Nesting deeper than this (arrays of records of arrays …) is withheld rather than followed. */
const MAX_DEPTH = 32;

const JSON_VERSION = Buffer.from([1]);
const NULL_LENGTH = Buffer.from([0xff, 0xff, 0xff, 0xff]);

/**
 * Runs the detectors over values in *binary* format (DataRow cells a client asked for in binary,
 * array elements, record fields). Text-like values are masked in place; arrays and records are
 * decoded (both carry the type of their elements) and re-encoded with the masked elements;
 * tsvector and tsquery are decoded and withheld whole on a finding. A value whose layout is not
 * known (an extension or user type) is decoded as an array or record if it is exactly one, else
 * scanned as raw bytes and withheld whole on a finding: text inside any binary layout is stored
 * as its bytes, so the detectors still see it. A value that does not decode as its own type's
 * layout is withheld (fail closed).
 */
export class BinaryValues {
  constructor(
    private readonly values: ValueMasker,
    private readonly textTypes: ReadonlySet<number>,
  ) {}

  /** Mask the binary value `buf[start, end)` of type `typeOid` (0: type not known). */
  mask(typeOid: number, buf: Buffer, start: number, end: number, depth = 0): Masked {
    if (depth > MAX_DEPTH) return null;
    switch (binaryLayout(typeOid, this.textTypes)) {
      case 'none':
        return undefined;
      case 'text':
        return this.values.maskBytes(buf, start, end, Syntax.Plain);
      case 'json':
        return this.values.maskBytes(buf, start, end, Syntax.Json);
      case 'jsonb':
        return this.versioned(buf, start, end, Syntax.Json);
      case 'jsonpath':
        return this.versioned(buf, start, end, Syntax.Literal);
      case 'array':
        return orWithheld(this.array(buf, start, end, depth));
      case 'record':
        return orWithheld(this.record(buf, start, end, depth));
      case 'tsvector':
        return orWithheld(this.tsvector(buf, start, end));
      case 'tsquery':
        return orWithheld(this.tsquery(buf, start, end));
      case 'unknown':
        return this.unknown(buf, start, end, depth);
    }
  }

  /**
   * Bytes of no known layout: an array or record if they decode exactly as one (both begin with
   * a zero byte; text never does), else withheld whole if a detector finds anything in them.
   */
  opaque(buf: Buffer, start: number, end: number): Masked {
    if (this.values.detectIn(buf, start, end)) return null;
    // A length word right before a text (00 00 00 41 is 65, an "A") can hide where the text
    // starts from detectors that need a word boundary: look again with it blanked.
    const blanked = blankLengthWords(buf, start, end);
    return blanked !== null && this.values.detectIn(blanked, 0, blanked.length) ? null : undefined;
  }

  private unknown(buf: Buffer, start: number, end: number, depth: number): Masked {
    if (end - start >= 4 && buf[start] === 0) {
      const asArray = this.array(buf, start, end, depth);
      if (asArray !== MALFORMED) return asArray;
      const asRecord = this.record(buf, start, end, depth);
      if (asRecord !== MALFORMED) return asRecord;
    }
    return this.opaque(buf, start, end);
  }

  /** jsonb and jsonpath: version byte 1, then the text. Another version is not ours to read. */
  private versioned(buf: Buffer, start: number, end: number, syntax: Syntax): Masked {
    if (end === start) return undefined;
    if (buf[start] !== 1) return this.opaque(buf, start, end);
    const r = this.values.maskBytes(buf, start + 1, end, syntax);
    return r ? Buffer.concat([JSON_VERSION, r]) : r;
  }

  /**
   * array_send: int32 ndim, int32 has-nulls flag, uint32 element type, ndim × (int32 size,
   * int32 lower bound), then each element as int32 length (-1 NULL) and bytes.
   */
  private array(buf: Buffer, start: number, end: number, depth: number): Decoded {
    if (end - start < 12) return MALFORMED;
    const ndim = buf.readInt32BE(start);
    const flags = buf.readInt32BE(start + 4);
    const elementType = buf.readUInt32BE(start + 8);
    const headerEnd = start + 12 + 8 * ndim;
    if (ndim < 0 || ndim > MAX_DIMENSIONS || (flags !== 0 && flags !== 1) || headerEnd > end) return MALFORMED;
    let count = ndim === 0 ? 0 : 1;
    for (let d = 0; d < ndim; d++) {
      const size = buf.readInt32BE(start + 12 + 8 * d);
      if (size < 0) return MALFORMED;
      count *= size;
      // Every element takes at least its 4-byte length word.
      if (count * 4 > end - headerEnd) return MALFORMED;
    }
    const items = lengthPrefixed(buf, headerEnd, end, count, 0);
    if (items === MALFORMED) return MALFORMED;
    const out = new Rebuilt(buf, start);
    for (let i = 0; i < items.length; i += 2) {
      const at = items[i]!;
      const len = items[i + 1]!;
      if (len >= 0) out.replace(at, at + 4 + len, this.mask(elementType, buf, at + 4, at + 4 + len, depth + 1));
    }
    const r = out.finish(end);
    // An element withheld as NULL: the copy must say the array has NULLs.
    if (r && out.nulled) r.writeInt32BE(1, 4);
    return r;
  }

  /** record_send: int32 field count, then per field uint32 type, int32 length (-1 NULL) and bytes. */
  private record(buf: Buffer, start: number, end: number, depth: number): Decoded {
    if (end - start < 4) return MALFORMED;
    const count = buf.readInt32BE(start);
    if (count < 0 || count > MAX_FIELDS || count * 8 > end - start - 4) return MALFORMED;
    const items = lengthPrefixed(buf, start + 4, end, count, 4);
    if (items === MALFORMED) return MALFORMED;
    const out = new Rebuilt(buf, start);
    for (let i = 0; i < items.length; i += 2) {
      const at = items[i]!;
      const len = items[i + 1]!;
      if (len < 0) continue;
      const type = buf.readUInt32BE(at - 4);
      out.replace(at, at + 4 + len, this.mask(type, buf, at + 4, at + 4 + len, depth + 1));
    }
    return out.finish(end);
  }

  /**
   * tsvector_send: int32 lexeme count, then per lexeme its text and a NUL, uint16 position
   * count and that many uint16 positions. A finding in any lexeme withholds the whole value.
   */
  private tsvector(buf: Buffer, start: number, end: number): Decoded {
    if (end - start < 4) return MALFORMED;
    const count = buf.readInt32BE(start);
    if (count < 0) return MALFORMED;
    let pos = start + 4;
    let found = false;
    for (let i = 0; i < count; i++) {
      const z = buf.indexOf(0, pos);
      if (z < 0 || z + 3 > end) return MALFORMED;
      found = this.values.detectIn(buf, pos, z) || found;
      pos = z + 3 + 2 * buf.readUInt16BE(z + 1);
      if (pos > end) return MALFORMED;
    }
    if (pos !== end) return MALFORMED;
    return found ? null : undefined;
  }

  /**
   * tsquerysend: int32 item count, then per item a type byte: 1 (operand) with weight and prefix
   * bytes and the NUL-terminated operand; 2 (operator) with the operator byte and, for 4
   * (phrase), an int16 distance. A finding in any operand withholds the whole value.
   */
  private tsquery(buf: Buffer, start: number, end: number): Decoded {
    if (end - start < 4) return MALFORMED;
    const count = buf.readInt32BE(start);
    if (count < 0) return MALFORMED;
    let pos = start + 4;
    let found = false;
    for (let i = 0; i < count; i++) {
      if (pos >= end) return MALFORMED;
      const type = buf[pos]!;
      if (type === 1) {
        const z = buf.indexOf(0, pos + 3);
        if (pos + 3 > end || z < 0 || z >= end) return MALFORMED;
        found = this.values.detectIn(buf, pos + 3, z) || found;
        pos = z + 1;
      } else if (type === 2) {
        if (pos + 2 > end) return MALFORMED;
        pos += buf[pos + 1] === 4 ? 4 : 2;
      } else return MALFORMED;
    }
    if (pos !== end) return MALFORMED;
    return found ? null : undefined;
  }
}

/**
 * A copy of `buf[start, end)` with the low bytes of big-endian length words turned into spaces:
 * after a run of r zero bytes, the next (4 - r % 4) % 4 bytes (00 00 00 41, 00 00 41 41, …).
 * Null when there are none.
 */
function blankLengthWords(buf: Buffer, start: number, end: number): Buffer | null {
  let out: Buffer | null = null;
  let zeros = 0;
  let blank = 0;
  for (let i = start; i < end; i++) {
    if (buf[i] === 0) {
      zeros++;
      blank = 0;
      continue;
    }
    if (zeros > 0) blank = (4 - (zeros % 4)) % 4;
    zeros = 0;
    if (blank > 0) {
      (out ??= Buffer.from(buf.subarray(start, end)))[i - start] = 0x20;
      blank--;
    }
  }
  return out;
}

function orWithheld(d: Decoded): Masked {
  return d === MALFORMED ? null : d;
}

/**
 * Walk `count` items from `pos`, each `gap` bytes (a record field's type) then an int32 length
 * (-1 NULL) and that many bytes, which must end exactly at `end`. Returns [length word offset,
 * length] pairs, or MALFORMED.
 */
function lengthPrefixed(
  buf: Buffer,
  pos: number,
  end: number,
  count: number,
  gap: number,
): number[] | typeof MALFORMED {
  const items = new Array<number>(count * 2);
  for (let i = 0; i < count; i++) {
    pos += gap;
    if (end - pos < 4) return MALFORMED;
    const len = buf.readInt32BE(pos);
    if (len < -1 || end - pos - 4 < len) return MALFORMED;
    items[2 * i] = pos;
    items[2 * i + 1] = len;
    pos += 4 + (len < 0 ? 0 : len);
  }
  return pos === end ? items : MALFORMED;
}

/**
 * A value rebuilt from its original bytes with some length-prefixed items replaced, in order.
 * Nothing is copied until the first replacement.
 */
class Rebuilt {
  private parts: Buffer[] | null = null;
  private from: number;
  /** Some item became NULL (an array must then say it has NULLs). */
  nulled = false;

  constructor(
    private readonly buf: Buffer,
    start: number,
  ) {
    this.from = start;
  }

  /** Replace the item `buf[at, to)` (length word and bytes) by `r`: undefined keeps it, null makes it NULL. */
  replace(at: number, to: number, r: Masked): void {
    if (r === undefined) return;
    const parts = (this.parts ??= []);
    parts.push(this.buf.subarray(this.from, at));
    if (r === null) {
      this.nulled = true;
      parts.push(NULL_LENGTH);
    } else {
      const len = Buffer.allocUnsafe(4);
      len.writeInt32BE(r.length);
      parts.push(len, r);
    }
    this.from = to;
  }

  finish(end: number): Masked {
    if (this.parts === null) return undefined;
    this.parts.push(this.buf.subarray(this.from, end));
    return Buffer.concat(this.parts);
  }
}
