/** Type OIDs the masker treats specially (pg_type.oid of built-in types; stable across versions). */
export const TypeOid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  json: 114,
  xml: 142,
  xmlArray: 143,
  jsonArray: 199,
  nameArray: 1003,
  bpcharArray: 1014,
  textArray: 1009,
  varcharArray: 1015,
  cstringArray: 1263,
  bpchar: 1042,
  varchar: 1043,
  unknown: 705,
  refcursor: 1790,
  refcursorArray: 2201,
  record: 2249,
  cstring: 2275,
  anyarray: 2277,
  recordArray: 2287,
  uuid: 2950,
  tsvector: 3614,
  tsquery: 3615,
  tsvectorArray: 3643,
  tsqueryArray: 3645,
  jsonb: 3802,
  jsonbArray: 3807,
  jsonpath: 4072,
  jsonpathArray: 4073,
} as const;

/** OIDs below this are built in (FirstNormalObjectId); above are extensions and user types. */
export const FIRST_NORMAL_OID = 16384;

/**
 * Whole-value layout of a cell, as far as masking is concerned.
 * - `text`: binary format = text format (text, varchar, bpchar, name, xml, unknown, cstring,
 *   refcursor).
 * - `json`: json, and jsonb (whose binary format is a version byte 1 followed by the text).
 * - `literal`: text-format output with quoting (arrays, records, anyarray, tsvector, tsquery,
 *   jsonpath, extension and user types such as citext, enums and composites); their binary
 *   formats are decoded by {@link binaryLayout} (see binary-values.ts).
 * - `int2`/`int4`/`int8`/`uuid`: non-text types the `hash` strategy can replace with a value of
 *   the same type.
 * - `other`: anything else (numbers, dates, bytea, …): not scanned; column rules make it NULL.
 */
export type ValueKind = 'text' | 'json' | 'literal' | 'int2' | 'int4' | 'int8' | 'uuid' | 'other';

/**
 * How a value of a type is laid out in *binary* format, for the detectors.
 * - `text`/`json`: the bytes are the text; `jsonb`/`jsonpath`: a version byte 1, then the text.
 * - `array`: array_send (header with the element type, then length-prefixed elements).
 * - `record`: record_send (field count, then per field its type, length and bytes).
 * - `tsvector`/`tsquery`: their send formats (NUL-terminated lexemes/operands among binary fields).
 * - `none`: a built-in type whose binary form holds no text (numbers, dates, bytea, …): not scanned.
 * - `unknown`: an extension or user type (or a pseudo-type) whose layout is not known here.
 */
export type BinaryLayout =
  'text' | 'json' | 'jsonb' | 'jsonpath' | 'array' | 'record' | 'tsvector' | 'tsquery' | 'none' | 'unknown';

const BINARY_LAYOUT: Readonly<Record<number, BinaryLayout>> = {
  [TypeOid.text]: 'text',
  [TypeOid.varchar]: 'text',
  [TypeOid.bpchar]: 'text',
  [TypeOid.name]: 'text',
  [TypeOid.xml]: 'text',
  [TypeOid.unknown]: 'text',
  [TypeOid.cstring]: 'text',
  [TypeOid.refcursor]: 'text',
  [TypeOid.json]: 'json',
  [TypeOid.jsonb]: 'jsonb',
  [TypeOid.jsonpath]: 'jsonpath',
  [TypeOid.record]: 'record',
  [TypeOid.tsvector]: 'tsvector',
  [TypeOid.tsquery]: 'tsquery',
  [TypeOid.anyarray]: 'array',
  [TypeOid.textArray]: 'array',
  [TypeOid.varcharArray]: 'array',
  [TypeOid.bpcharArray]: 'array',
  [TypeOid.nameArray]: 'array',
  [TypeOid.xmlArray]: 'array',
  [TypeOid.cstringArray]: 'array',
  [TypeOid.refcursorArray]: 'array',
  [TypeOid.jsonArray]: 'array',
  [TypeOid.jsonbArray]: 'array',
  [TypeOid.jsonpathArray]: 'array',
  [TypeOid.recordArray]: 'array',
  [TypeOid.tsvectorArray]: 'array',
  [TypeOid.tsqueryArray]: 'array',
};

/** Pseudo-types that can appear as a result type and stand for a value of some other type. */
const POLYMORPHIC = new Set<number>([
  2276, // any
  2283, // anyelement
  2776, // anynonarray
  3500, // anyenum
  3831, // anyrange
  4537, // anymultirange
  5077, // anycompatible
  5078, // anycompatiblearray
  5079, // anycompatiblenonarray
  5080, // anycompatiblerange
  4538, // anycompatiblemultirange
]);

/**
 * Binary layout of a type (0: not known). `textTypes` are extension and user types known (from the target's
 * catalog) to send their text as their binary form: citext, enums, domains over text.
 */
export function binaryLayout(typeOid: number, textTypes?: ReadonlySet<number>): BinaryLayout {
  const known = BINARY_LAYOUT[typeOid];
  if (known !== undefined) return known;
  if (typeOid === 0) return 'unknown'; // a cell whose type is not known
  if (typeOid >= FIRST_NORMAL_OID) return textTypes?.has(typeOid) ? 'text' : 'unknown';
  return POLYMORPHIC.has(typeOid) ? 'unknown' : 'none';
}

/** Array types whose text format is an array literal a column rule's text cannot replace. */
export function isArrayType(typeOid: number): boolean {
  return BINARY_LAYOUT[typeOid] === 'array';
}

export function valueKind(typeOid: number): ValueKind {
  switch (typeOid) {
    case TypeOid.text:
    case TypeOid.varchar:
    case TypeOid.bpchar:
    case TypeOid.name:
    case TypeOid.xml:
    case TypeOid.unknown:
    case TypeOid.cstring:
    case TypeOid.refcursor:
      return 'text';
    case TypeOid.json:
    case TypeOid.jsonb:
      return 'json';
    case TypeOid.int2:
      return 'int2';
    case TypeOid.int4:
      return 'int4';
    case TypeOid.int8:
      return 'int8';
    case TypeOid.uuid:
      return 'uuid';
  }
  const layout = binaryLayout(typeOid);
  return layout === 'none' ? 'other' : 'literal';
}
