import type { FieldDescription } from '@warden/pg-wire';
import type { BinaryValues } from './binary-values.js';
import { binaryLayout, isArrayType, TypeOid, valueKind, type ValueKind } from './pg-types.js';
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
  /** The column's type, for decoding binary values. */
  typeOid: number;
  /** An array type (its text format is an array literal). */
  array: boolean;
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
    const key = columnKey(f.tableOID, f.columnAttr);
    const rule = f.tableOID !== 0 ? plan.columns.get(key) : undefined;
    const detect = detectors && (kind === 'text' || kind === 'json' || kind === 'literal');
    return {
      kind,
      format,
      jsonb: f.dataTypeOID === TypeOid.jsonb,
      typeOid: f.dataTypeOID,
      array: isArrayType(f.dataTypeOID),
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
  binary: BinaryValues,
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
      if (isBinaryLiteral(col, buf, start, end)) return binary.mask(col.typeOid, buf, start, end);
      return values.maskBytes(buf, start, end, Syntax.Literal);
    default:
      return undefined;
  }
}

const JSONB_VERSION = Buffer.from([1]);

/**
 * A `literal` cell in binary format. An unknown format (a statement-level RowDescription) is
 * decided by the first byte: arrays, records, tsvector and tsquery start their binary form with
 * a zero byte (a count or dimension), jsonpath with its version byte 1; text output never does.
 */
function isBinaryLiteral(col: ColumnPlan, buf: Buffer, start: number, end: number): boolean {
  if (col.format !== -1) return col.format === 1;
  if (end === start) return false;
  const first = buf[start]!;
  return first === 0 || (first === 1 && binaryLayout(col.typeOid) === 'jsonpath');
}

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
      if (col.array || isBinaryLiteral(col, buf, start, end)) return null;
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
