import type { FieldDescription } from '@warden/pg-wire';
import { arrayElementKind, TypeOid, valueKind, type ValueKind } from './pg-types.js';
import { columnKey, type ColumnRule, type CompiledPlan } from './plan.js';
import { applyStrategy, type Hasher } from './strategies.js';
import { Syntax, type Counts, type ValueMasker } from './value-masker.js';

/** Result format of a column: 0 text, 1 binary, -1 unknown (a statement-level RowDescription). */
export type Format = 0 | 1 | -1;

/** What to do with one result column, derived once per RowDescription. */
export interface ColumnPlan {
  kind: ValueKind;
  format: Format;
  jsonb: boolean;
  /** Element kind, for binary text-like arrays. */
  element: ValueKind | undefined;
  rule: ColumnRule | undefined;
  /** Counter key of the rule: `column:<name>`. */
  counter: string;
  /** Run detectors on this column's cells. */
  detect: boolean;
  /** Anything to do at all. */
  active: boolean;
}

export function planColumns(fields: readonly FieldDescription[], plan: CompiledPlan): ColumnPlan[] {
  const detectors = plan.detectors.length > 0;
  return fields.map((f) => {
    const kind = valueKind(f.dataTypeOID);
    const format: Format = f.format === 0 ? 0 : f.format === 1 ? 1 : -1;
    const element = arrayElementKind(f.dataTypeOID);
    const key = columnKey(f.tableOID, f.columnAttr);
    const rule = f.tableOID !== 0 ? plan.columns.get(key) : undefined;
    const scannable =
      kind === 'text' || kind === 'json' || (kind === 'literal' && (format !== 1 || element !== undefined));
    const detect = detectors && scannable;
    return {
      kind,
      format,
      jsonb: f.dataTypeOID === TypeOid.jsonb || f.dataTypeOID === TypeOid.jsonbArray,
      element,
      rule,
      counter: `column:${rule?.name ?? key}`,
      detect,
      active: rule !== undefined || detect,
    };
  });
}

/**
 * Mask one non-NULL cell `buf[start, end)`. Returns undefined when unchanged, null for SQL NULL,
 * or the new cell bytes.
 */
export function maskCell(
  col: ColumnPlan,
  buf: Buffer,
  start: number,
  end: number,
  values: ValueMasker,
  hasher: Hasher,
  counts: Counts,
): Buffer | null | undefined {
  if (col.rule !== undefined) {
    counts[col.counter] = (counts[col.counter] ?? 0) + 1;
    return applyColumnRule(col, col.rule, buf, start, end, hasher);
  }
  if (!col.detect) return undefined;
  switch (col.kind) {
    case 'text':
      return values.maskBytes(buf, start, end, Syntax.Plain);
    case 'json': {
      if (isBinaryJsonb(col, buf, start, end)) {
        const r = values.maskBytes(buf, start + 1, end, Syntax.Json);
        return r ? Buffer.concat([JSONB_VERSION, r]) : r;
      }
      return values.maskBytes(buf, start, end, Syntax.Json);
    }
    case 'literal':
      if (col.format === 1 || (col.format === -1 && end > start && buf[start] === 0)) {
        return col.element === undefined ? undefined : maskBinaryArray(col, buf, start, end, values);
      }
      return values.maskBytes(buf, start, end, Syntax.Literal);
    default:
      return undefined;
  }
}

const JSONB_VERSION = Buffer.from([1]);

function isBinaryJsonb(col: ColumnPlan, buf: Buffer, start: number, end: number): boolean {
  // Text JSON never starts with byte 1, so an unknown format is decided by the first byte.
  return col.jsonb && (col.format === 1 || (col.format === -1 && end > start && buf[start] === 1));
}

/**
 * A whole cell under a column rule. Text-like values get the strategy's text (json as a JSON
 * string). Non-text types cannot hold a redaction string: in binary format it would be invalid
 * bytes for the type (an int8 is exactly 8 bytes), and in text format the client's type parser
 * would reject it, so they become NULL, except that `hash` keeps int2/int4/int8 and uuid
 * columns typed: a deterministic value of the same type, so joins on masked keys still work.
 */
function applyColumnRule(
  col: ColumnPlan,
  rule: ColumnRule,
  buf: Buffer,
  start: number,
  end: number,
  hasher: Hasher,
): Buffer | null {
  switch (col.kind) {
    case 'text':
      return Buffer.from(applyStrategy(rule.strategy, buf.toString('latin1', start, end), hasher), 'latin1');
    case 'json': {
      const binary = isBinaryJsonb(col, buf, start, end);
      const masked = applyStrategy(rule.strategy, buf.toString('latin1', binary ? start + 1 : start, end), hasher);
      const json = Buffer.from(JSON.stringify(Buffer.from(masked, 'latin1').toString('utf8')), 'utf8');
      return binary ? Buffer.concat([JSONB_VERSION, json]) : json;
    }
    case 'literal':
      // Arrays and binary values of unknown layout: NULL. Text output of user types (citext,
      // enums, domains' base types) takes the strategy's text.
      if (col.element !== undefined || col.format === 1 || (col.format === -1 && buf[start] === 0)) return null;
      return Buffer.from(applyStrategy(rule.strategy, buf.toString('latin1', start, end), hasher), 'latin1');
    case 'int2':
    case 'int4':
    case 'int8':
      return rule.strategy === 'hash' ? hashInteger(col, buf, start, end, hasher) : null;
    case 'uuid':
      return rule.strategy === 'hash' ? hashUuid(col, buf, start, end, hasher) : null;
    default:
      return null;
  }
}

const INT_BYTES = { int2: 2, int4: 4, int8: 8 } as const;

function hashInteger(col: ColumnPlan, buf: Buffer, start: number, end: number, hasher: Hasher): Buffer | null {
  const width = INT_BYTES[col.kind as keyof typeof INT_BYTES];
  let canonical: string;
  if (col.format === 0) canonical = buf.toString('latin1', start, end);
  else if (col.format === 1 && end - start === width) {
    canonical = (
      width === 2 ? buf.readInt16BE(start) : width === 4 ? buf.readInt32BE(start) : buf.readBigInt64BE(start)
    ).toString();
  } else return null; // unknown format: "12345678" and an 8-byte binary int8 look alike
  const v = hasher.integer(canonical, width);
  if (col.format === 0) return Buffer.from(v.toString(), 'latin1');
  const out = Buffer.allocUnsafe(width);
  if (width === 2) out.writeInt16BE(Number(v));
  else if (width === 4) out.writeInt32BE(Number(v));
  else out.writeBigInt64BE(v);
  return out;
}

function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function hashUuid(col: ColumnPlan, buf: Buffer, start: number, end: number, hasher: Hasher): Buffer | null {
  let canonical: string;
  if (col.format === 0) canonical = buf.toString('latin1', start, end).toLowerCase();
  else if (col.format === 1 && end - start === 16) canonical = formatUuid(buf.subarray(start, end));
  else return null;
  const u = hasher.uuid(canonical);
  return col.format === 0 ? Buffer.from(formatUuid(u), 'latin1') : Buffer.from(u);
}

/**
 * Binary array of text-like elements: int32 ndim, int32 has-nulls flag, uint32 element type,
 * ndim × (int32 size, int32 lower bound), then each element as int32 length (-1 NULL) and bytes.
 * Elements are masked like cells of the element type; a malformed array becomes NULL.
 */
function maskBinaryArray(
  col: ColumnPlan,
  buf: Buffer,
  start: number,
  end: number,
  values: ValueMasker,
): Buffer | null | undefined {
  if (end - start < 12) return end === start ? undefined : null;
  const ndim = buf.readInt32BE(start);
  if (ndim < 0 || ndim > 6 || end - start < 12 + 8 * ndim) return null;
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) count *= Math.max(0, buf.readInt32BE(start + 12 + 8 * d));
  let pos = start + 12 + 8 * ndim;
  const header = buf.subarray(start, pos);
  const parts: Buffer[] = [header];
  let changed = false;
  let flushedTo = pos;
  for (let i = 0; i < count; i++) {
    if (end - pos < 4) return null;
    const len = buf.readInt32BE(pos);
    pos += 4;
    if (len === -1) continue;
    if (len < 0 || end - pos < len) return null;
    const r =
      col.element === 'json'
        ? col.jsonb
          ? prefixed(values.maskBytes(buf, pos + 1, pos + len, Syntax.Json))
          : values.maskBytes(buf, pos, pos + len, Syntax.Json)
        : values.maskBytes(buf, pos, pos + len, Syntax.Plain);
    if (r) {
      changed = true;
      parts.push(buf.subarray(flushedTo, pos - 4));
      const lenBuf = Buffer.allocUnsafe(4);
      lenBuf.writeInt32BE(r.length);
      parts.push(lenBuf, r);
      flushedTo = pos + len;
    }
    pos += len;
  }
  if (pos !== end) return null;
  if (!changed) return undefined;
  parts.push(buf.subarray(flushedTo, end));
  return Buffer.concat(parts);
}

function prefixed(r: Buffer | null | undefined): Buffer | null | undefined {
  return r ? Buffer.concat([JSONB_VERSION, r]) : r;
}
