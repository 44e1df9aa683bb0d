import {
  DETECTORS,
  DETECTOR_BIT,
  DETECTOR_IDS,
  isDetectorId,
  type Detector,
  type DetectorId,
} from './detectors/index.js';
import { FIRST_NORMAL_OID } from './pg-types.js';
import { isStrategy, type Strategy } from './strategies.js';

/** A column to mask wherever it appears as a plain result column. */
export interface ColumnRule {
  strategy: Strategy;
  /** Name used in counters (`column:<name>`), usually `schema.table.column`. */
  name?: string;
}

/**
 * What the agent masks on one connection: column rules keyed by {@link columnKey}
 * (`tableOid:attnum`, as RowDescription reports them) and the enabled value detectors with the
 * strategy for each. A detector absent from `detectors` is off.
 */
export interface MaskingPlan {
  columns?: ReadonlyMap<string, ColumnRule> | Readonly<Record<string, ColumnRule>>;
  detectors?: Readonly<Partial<Record<DetectorId, Strategy>>>;
  /**
   * Extension and user types whose binary format is their text (citext, enums, domains over
   * text), from {@link TEXT_TYPE_CATALOG_QUERY}: their binary cells are masked in place. Binary
   * values of other types the masker does not know are withheld whole when a detector finds
   * anything in their bytes.
   */
  textTypes?: Iterable<number>;
}

/** Every detector on: card numbers keep their last 4 digits (as PCI DSS allows), the rest is redacted. */
export const DEFAULT_DETECTOR_STRATEGIES: Readonly<Record<DetectorId, Strategy>> = Object.freeze(
  Object.fromEntries(DETECTOR_IDS.map((id) => [id, id === 'credit_card' ? 'last4' : 'redact'])) as Record<
    DetectorId,
    Strategy
  >,
);

export function columnKey(tableOid: number, attnum: number): string {
  return `${tableOid}:${attnum}`;
}

/** A column rule as configured: `schema.table.column` (or `table.column` in `public`). */
export interface ColumnRuleConfig {
  column: string;
  strategy: Strategy;
}

export interface QualifiedColumn {
  schema: string;
  table: string;
  column: string;
}

/** Where a column lives, as RowDescription identifies it. */
export interface ColumnLocation {
  tableOid: number;
  attnum: number;
}

/** Resolves a column to its location(s): a table plus, if any, its partitions and inheritance children. */
export type ColumnLookup = (
  schema: string,
  table: string,
  column: string,
) => ColumnLocation | readonly ColumnLocation[] | undefined;

/**
 * Split `schema.table.column` the way Postgres reads identifiers: unquoted parts fold to lower
 * case, `"Quoted"` parts keep their case and may contain dots (`""` is a quote). Two parts mean
 * schema `public`.
 */
export function parseQualifiedColumn(name: string): QualifiedColumn {
  const parts: string[] = [];
  let i = 0;
  while (i <= name.length) {
    let part = '';
    if (name[i] === '"') {
      i++;
      for (;;) {
        if (i >= name.length) throw new SyntaxError(`unterminated quoted identifier in ${JSON.stringify(name)}`);
        if (name[i] === '"') {
          if (name[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += name[i++];
      }
    } else {
      const dot = name.indexOf('.', i);
      const end = dot < 0 ? name.length : dot;
      part = name.slice(i, end).trim().toLowerCase();
      i = end;
    }
    if (part === '') throw new SyntaxError(`empty identifier in ${JSON.stringify(name)}`);
    parts.push(part);
    if (i >= name.length) break;
    if (name[i] !== '.') throw new SyntaxError(`expected "." in ${JSON.stringify(name)}`);
    i++;
  }
  if (parts.length === 2) return { schema: 'public', table: parts[0]!, column: parts[1]! };
  if (parts.length === 3) return { schema: parts[0]!, table: parts[1]!, column: parts[2]! };
  throw new SyntaxError(`expected schema.table.column, got ${JSON.stringify(name)}`);
}

export interface ResolvedColumnRules {
  /** Rules by `tableOid:attnum`, ready for {@link MaskingPlan.columns}. */
  columns: Map<string, ColumnRule>;
  /** Configured columns the catalog does not have (nothing to mask until they exist). */
  unresolved: string[];
}

/**
 * Turn configured rules into rules by `tableOid:attnum` with an injected catalog `lookup`
 * (see {@link COLUMN_CATALOG_QUERY} and {@link catalogLookup}). When two rules hit the same
 * column, the later one wins.
 */
export function resolveColumnRules(rules: readonly ColumnRuleConfig[], lookup: ColumnLookup): ResolvedColumnRules {
  const columns = new Map<string, ColumnRule>();
  const unresolved: string[] = [];
  for (const rule of rules) {
    if (!isStrategy(rule.strategy)) throw new TypeError(`unknown masking strategy ${JSON.stringify(rule.strategy)}`);
    const q = parseQualifiedColumn(rule.column);
    const found = lookup(q.schema, q.table, q.column);
    const locations = found === undefined ? [] : Array.isArray(found) ? found : [found as ColumnLocation];
    if (locations.length === 0) unresolved.push(rule.column);
    const name = `${q.schema}.${q.table}.${q.column}`;
    for (const loc of locations) columns.set(columnKey(loc.tableOid, loc.attnum), { strategy: rule.strategy, name });
  }
  return { columns, unresolved };
}

/**
 * The common table expressions (after `WITH RECURSIVE`) that find the relations a column rule
 * covers, with the parameters from {@link catalogQueryParams}: `wanted(schema, tbl, col)` the
 * rules, `tree(schema, tbl, col, relid)` the named relation (table, view, materialized view,
 * foreign table) and every partition or inheritance child below it. Schema `pg_temp` means the
 * session's own temporary schema. Every query that must find the masked relations as the masker
 * does starts from these.
 */
export const MASKED_RELATIONS_CTES = `wanted(schema, tbl, col) AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
), tree(schema, tbl, col, relid) AS (
  SELECT w.schema, w.tbl, w.col, c.oid
  FROM wanted w
  JOIN pg_catalog.pg_namespace n ON n.nspname = w.schema OR (w.schema = 'pg_temp' AND n.oid = pg_catalog.pg_my_temp_schema())
  JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = w.tbl
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  UNION
  SELECT t.schema, t.tbl, t.col, i.inhrelid
  FROM tree t JOIN pg_catalog.pg_inherits i ON i.inhparent = t.relid
)`;

/**
 * The catalog query the agent runs on the target to resolve column rules, with the parameters
 * from {@link catalogQueryParams}: one row per (rule, table) with the rule's schema, table and
 * column names and the table OID and attribute number, for the table itself, views and
 * materialized views of that name, and every partition or inheritance child below it (their
 * rows carry the child's OID and its own attnum for that column name). Schema `pg_temp` means
 * the session's own temporary schema.
 */
export const COLUMN_CATALOG_QUERY = `WITH RECURSIVE ${MASKED_RELATIONS_CTES}
SELECT t.schema, t.tbl AS "table", t.col AS "column", t.relid::int8 AS table_oid, a.attnum::int4 AS attnum
FROM tree t
JOIN pg_catalog.pg_attribute a ON a.attrelid = t.relid AND a.attname = t.col AND a.attnum > 0 AND NOT a.attisdropped`;

/** Parameters of {@link COLUMN_CATALOG_QUERY}: schemas, tables, columns as three text arrays. */
export function catalogQueryParams<R extends Pick<ColumnRuleConfig, 'column'>>(
  rules: readonly R[],
): [string[], string[], string[]] {
  const schemas: string[] = [];
  const tables: string[] = [];
  const columns: string[] = [];
  for (const rule of rules) {
    const q = parseQualifiedColumn(rule.column);
    schemas.push(q.schema);
    tables.push(q.table);
    columns.push(q.column);
  }
  return [schemas, tables, columns];
}

export interface CatalogRow {
  schema: string;
  table: string;
  column: string;
  /** int8 arrives as a string from node-postgres. */
  table_oid: number | string;
  attnum: number | string;
}

/** A {@link ColumnLookup} over the rows {@link COLUMN_CATALOG_QUERY} returned. */
export function catalogLookup(rows: readonly CatalogRow[]): ColumnLookup {
  const byName = new Map<string, ColumnLocation[]>();
  for (const r of rows) {
    const k = `${r.schema}\0${r.table}\0${r.column}`;
    let list = byName.get(k);
    if (!list) byName.set(k, (list = []));
    list.push({ tableOid: Number(r.table_oid), attnum: Number(r.attnum) });
  }
  return (schema, table, column) => byName.get(`${schema}\0${table}\0${column}`);
}

/**
 * The target's extension and user types whose binary send function is a text one (citext's is
 * `textsend` under another name; enums send their label), as `oid` (int8) rows: the plan's
 * `textTypes`. Domains share their base type's send function, so domains over text are included.
 */
export const TEXT_TYPE_CATALOG_QUERY = `SELECT t.oid::int8 AS oid
FROM pg_catalog.pg_type t JOIN pg_catalog.pg_proc p ON p.oid = t.typsend
WHERE t.oid >= 16384 AND p.prolang IN (12, 13)
  AND p.prosrc IN ('textsend', 'varcharsend', 'bpcharsend', 'namesend', 'enum_send', 'xml_send', 'json_send')`;

/** A plan checked and prepared for the hot path. */
export interface CompiledPlan {
  columns: ReadonlyMap<string, ColumnRule>;
  /** Enabled detectors in priority order. */
  detectors: readonly Detector[];
  /** Their {@link DETECTOR_BIT}s. */
  detectorMask: number;
  strategies: Readonly<Partial<Record<DetectorId, Strategy>>>;
  textTypes: ReadonlySet<number>;
  /** Nothing to do: frames pass through untouched. */
  empty: boolean;
}

export function compilePlan(plan: MaskingPlan): CompiledPlan {
  const columns =
    plan.columns instanceof Map
      ? new Map(plan.columns)
      : new Map(Object.entries((plan.columns ?? {}) as Record<string, ColumnRule>));
  for (const [key, rule] of columns) {
    if (!/^\d+:-?\d+$/.test(key)) throw new TypeError(`column rule key must be tableOid:attnum, got ${key}`);
    if (!isStrategy(rule.strategy)) throw new TypeError(`unknown masking strategy ${JSON.stringify(rule.strategy)}`);
  }
  const strategies: Partial<Record<DetectorId, Strategy>> = {};
  for (const [id, strategy] of Object.entries(plan.detectors ?? {})) {
    if (!isDetectorId(id)) throw new TypeError(`unknown detector ${JSON.stringify(id)}`);
    if (!isStrategy(strategy)) throw new TypeError(`unknown masking strategy ${JSON.stringify(strategy)}`);
    strategies[id] = strategy;
  }
  const detectors = DETECTOR_IDS.filter((id) => strategies[id] !== undefined).map((id) => DETECTORS[id]);
  const detectorMask = detectors.reduce((m, d) => m | DETECTOR_BIT[d.id], 0);
  const textTypes = new Set<number>();
  for (const oid of plan.textTypes ?? []) {
    if (!Number.isInteger(oid) || oid < FIRST_NORMAL_OID) throw new TypeError(`not a user type OID: ${oid}`);
    textTypes.add(oid);
  }
  return {
    columns,
    detectors,
    detectorMask,
    strategies,
    textTypes,
    empty: columns.size === 0 && detectors.length === 0,
  };
}
