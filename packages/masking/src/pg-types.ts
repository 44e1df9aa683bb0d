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
  bpchar: 1042,
  varchar: 1043,
  unknown: 705,
  record: 2249,
  uuid: 2950,
  tsvector: 3614,
  jsonb: 3802,
  jsonbArray: 3807,
} as const;

/** OIDs below this are built in (FirstNormalObjectId); above are extensions and user types. */
export const FIRST_NORMAL_OID = 16384;

/**
 * Whole-value layout of a cell, as far as masking is concerned.
 * - `text`: binary format = text format (text, varchar, bpchar, name, xml, unknown).
 * - `json`: json, and jsonb (whose binary format is a version byte 1 followed by the text).
 * - `literal`: text-format output with quoting (arrays, records, tsvector, extension and user
 *   types such as citext, enums and composites); their binary formats are not text.
 * - `int2`/`int4`/`int8`/`uuid`: non-text types the `hash` strategy can replace with a value of
 *   the same type.
 * - `other`: anything else (numbers, dates, bytea, …): not scanned; column rules make it NULL.
 */
export type ValueKind = 'text' | 'json' | 'literal' | 'int2' | 'int4' | 'int8' | 'uuid' | 'other';

/** Text-like element types of one-dimensional or multi-dimensional arrays (binary format is parsed). */
const ARRAY_ELEMENT: Record<number, ValueKind> = {
  [TypeOid.textArray]: 'text',
  [TypeOid.varcharArray]: 'text',
  [TypeOid.bpcharArray]: 'text',
  [TypeOid.nameArray]: 'text',
  [TypeOid.xmlArray]: 'text',
  [TypeOid.jsonArray]: 'json',
  [TypeOid.jsonbArray]: 'json',
};

export function valueKind(typeOid: number): ValueKind {
  switch (typeOid) {
    case TypeOid.text:
    case TypeOid.varchar:
    case TypeOid.bpchar:
    case TypeOid.name:
    case TypeOid.xml:
    case TypeOid.unknown:
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
    case TypeOid.record:
    case TypeOid.tsvector:
      return 'literal';
  }
  if (ARRAY_ELEMENT[typeOid] !== undefined || typeOid >= FIRST_NORMAL_OID) return 'literal';
  return 'other';
}

/** Element kind of a text-like array type, for its binary format; undefined otherwise. */
export function arrayElementKind(typeOid: number): ValueKind | undefined {
  return ARRAY_ELEMENT[typeOid];
}
