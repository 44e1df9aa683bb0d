import {
  ANY_TABLE,
  type ColumnSource,
  type ColumnUse,
  type StatementAnalysis,
  type TableRef,
} from '../analyze/types.js';
import type { CatalogFacts, MaskedDependent } from './contract.js';

/** A refusal by what the catalog says about masked columns (same shape as a masking violation). */
export interface MaskedCatalogViolation {
  message: string;
  detail: string;
  column?: string;
}

/** The masked column of a table the policy masks (`schema.table.column`), or undefined when it masks none. */
export type MaskedColumnOf = (table: ColumnSource) => string | undefined;

interface KnownTable {
  schema: string;
  table: string;
  columns: ReadonlySet<string>;
}

/**
 * Routes by which masked values leave that the SQL text alone cannot show, closed with facts the
 * agent reads from the target's catalog at session start:
 *
 * - a view or materialized view that reads a masked column (directly, through other views, or
 *   through the whole row of its table) returns the values with the view as their origin, which
 *   the agent does not mask: any statement naming one is refused (DROP excepted);
 * - `q.name` where `q` is a table with masked columns and `name` is none of its columns calls the
 *   function `name(q)` on the whole row (attribute notation): refused, whatever the function.
 *
 * Table and schema names compare case-insensitively and a name without a schema matches every
 * schema (search_path is not in the text), both toward refusing. Column names compare exactly: the
 * parser has already folded them as Postgres does, and a near miss must count as "not a column".
 */
export class MaskedCatalog {
  /** lower-case view name → the dependents of that name */
  private readonly dependents = new Map<string, MaskedDependent[]>();
  /** lower-case table name → its columns, per schema */
  private readonly tables = new Map<string, KnownTable[]>();
  /** Whether the facts list the masked tables' columns (an agent that reads them). */
  private readonly knowsColumns: boolean;

  constructor(facts: CatalogFacts) {
    for (const d of facts.maskedDependents ?? []) push(this.dependents, d.name, d);
    for (const t of facts.maskedTableColumns ?? []) {
      push(this.tables, t.table, { schema: t.schema, table: t.table, columns: new Set(t.columns) });
    }
    this.knowsColumns = facts.maskedTableColumns !== undefined;
  }

  check(stmt: StatementAnalysis, maskedColumnOf: MaskedColumnOf): MaskedCatalogViolation | undefined {
    // Dropping a view moves no values; it is one of the ways out this refusal suggests.
    if (stmt.kind !== 'drop') {
      for (const ref of stmt.tables) {
        const dependent = this.dependentNamed(ref);
        if (dependent) return dependentViolation(dependent);
      }
    }
    if (!this.knowsColumns) return undefined;
    for (const use of stmt.columns) {
      // Only a qualified name can be attribute notation; `c.*` and whole-row uses are judged as such.
      if (use.star || use.wholeRow || !use.ref.includes('.')) continue;
      for (const src of use.sources) {
        if (src.table === ANY_TABLE || src.column === '*') continue;
        const violation = this.attributeViolation(use, src, maskedColumnOf);
        if (violation) return violation;
      }
    }
    return undefined;
  }

  private dependentNamed(ref: TableRef): MaskedDependent | undefined {
    const schema = ref.schema?.toLowerCase();
    return this.dependents
      .get(ref.name.toLowerCase())
      ?.find((d) => schema === undefined || d.schema.toLowerCase() === schema);
  }

  /** `q.name` on a table with masked columns, where `name` is not one of its columns. */
  private attributeViolation(
    use: ColumnUse,
    src: ColumnSource,
    maskedColumnOf: MaskedColumnOf,
  ): MaskedCatalogViolation | undefined {
    const schema = src.schema?.toLowerCase();
    const known = (this.tables.get(src.table.toLowerCase()) ?? []).filter(
      (t) => schema === undefined || t.schema.toLowerCase() === schema,
    );
    const masked = maskedColumnOf(src);
    // A table the policy masks that the agent did not find is judged as having no such column.
    if (known.length === 0 ? masked === undefined : known.every((t) => t.columns.has(src.column))) return undefined;
    const table = known.find((t) => !t.columns.has(src.column));
    const tableName = table ? `${table.schema}.${table.table}` : src.schema ? `${src.schema}.${src.table}` : src.table;
    const qualifier = use.ref.slice(0, use.ref.lastIndexOf('.'));
    const violation: MaskedCatalogViolation = {
      message:
        `"${use.ref}" is not a column of ${tableName}, which has masked columns: Postgres reads it as ` +
        `${src.column}(${qualifier}), a function called on the whole row, whose result is not masked; ` +
        'select the columns you need, or call the function on them',
      detail: `"${use.ref}" names no column of masked table ${tableName} (target catalog): attribute notation on the whole row`,
    };
    if (masked !== undefined) violation.column = masked;
    return violation;
  }
}

function dependentViolation(d: MaskedDependent): MaskedCatalogViolation {
  const what = d.kind === 'view' ? 'view' : 'materialized view';
  const name = `${d.schema}.${d.name}`;
  const table = d.column.slice(0, d.column.lastIndexOf('.'));
  const holds = d.kind === 'view' ? 'returns' : 'holds a copy of';
  return {
    message:
      `${what} ${name} ${holds} values derived from masked column ${d.column}, and its rows carry the ${what} as ` +
      `their origin, so Warden cannot mask them; query ${table} directly (the column is masked there), ` +
      `or drop the ${what} or remove the masked column from it`,
    detail: `${what} ${name} depends on masked column ${d.column} (target catalog)`,
    column: d.column,
  };
}

function push<T>(map: Map<string, T[]>, name: string, value: T): void {
  const key = name.toLowerCase();
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
