import type { RangeEntry } from './scope.js';

/**
 * Functions Postgres calls through attribute notation on a whole row: `c.row_to_json` is
 * `row_to_json(c)` when `c` has no column of that name. These are the built-in functions and
 * aggregates (PostgreSQL 15 to 18, plus contrib's `hstore`) that accept one argument of any row
 * type (`record`, `anyelement`, `"any"`, ...) and return something derived from its values.
 * Window and ordered-set functions are left out: called this way they are errors.
 * User-defined functions taking a row are not known from the text (see the README's threat model).
 */
const ROW_FUNCTIONS: ReadonlySet<string> = new Set([
  'any_out',
  'any_value',
  'anycompatible_out',
  'anycompatiblenonarray_out',
  'anyelement_out',
  'anynonarray_out',
  'array_agg',
  'concat',
  'hash_record',
  'hstore',
  'json_agg',
  'json_agg_strict',
  'json_build_array',
  'json_build_object',
  'jsonb_agg',
  'jsonb_agg_strict',
  'jsonb_build_array',
  'jsonb_build_object',
  'num_nonnulls',
  'num_nulls',
  'pg_column_size',
  'quote_literal',
  'quote_nullable',
  'record_out',
  'record_send',
  'row_to_json',
  'to_json',
  'to_jsonb',
]);

/** Whether `name` may be a function applied to a whole row written as a column (`c.name`). */
export function attributeFunction(name: string): boolean {
  return ROW_FUNCTIONS.has(name);
}

/**
 * Whether `entry.name` may be a function call on the entry's whole row rather than a column:
 * certainly when the entry's column names are all known and `name` is not one of them; for a
 * table (whose columns the text does not list), when `name` is a built-in function that takes
 * any row.
 */
export function mayBeFunctionOfRow(entry: RangeEntry, name: string): boolean {
  if (entry.lineage) {
    const items = entry.lineage.items;
    // `?column?` stands for a name Postgres derives that the analysis does not (`int4`, `case`).
    if (items.every((i) => i.name !== undefined && i.name !== '?column?')) return !items.some((i) => i.name === name);
    return attributeFunction(name);
  }
  if (entry.members) return entry.members.every((m) => mayBeFunctionOfRow(m, name));
  return attributeFunction(name);
}
