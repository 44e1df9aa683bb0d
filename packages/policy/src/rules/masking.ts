import { isDdlKind } from '../analyze/statement-kinds.js';
import {
  ANY_TABLE,
  type ColumnSource,
  type ColumnUse,
  type QualifiedName,
  type StatementAnalysis,
} from '../analyze/types.js';
import type { CatalogFacts } from '../session/contract.js';
import { MaskedCatalog } from '../session/masked-catalog.js';
import { qualified } from './guardrails.js';
import type { DetectorStrategies, MaskingRules, MaskingStrategy } from './schemas.js';

/** A masked column as the agent needs it (@warden/masking's ColumnRuleConfig, plus the rule's name). */
export interface MaskedColumn {
  /** Canonical `schema.table.column`, identifiers quoted where Postgres needs it. */
  column: string;
  strategy: MaskingStrategy;
  /** The rule's name, or `column`. */
  name: string;
}

/** What the agent applies to result rows: columns by origin (resolved through its catalog), detectors on every text cell. */
export interface MaskingPlan {
  columns: readonly MaskedColumn[];
  detectors: Readonly<DetectorStrategies>;
}

interface CompiledColumn {
  schema: string;
  table: string;
  column: string;
  rule: MaskedColumn;
}

/** A masked column a statement returns, and how it was selected. */
export interface MaskedColumnUse {
  /** Canonical `schema.table.column` */
  column: string;
  strategy: MaskingStrategy;
  statementIndex: number;
  /** `column`: named in the select list; `star`: part of a `*` / `t.*` expansion. */
  via: 'column' | 'star';
}

export interface MaskingViolation {
  message: string;
  detail: string;
  column?: string;
}

/**
 * DDL that may touch a masked table. Anything else (ALTER ... RENAME / SET SCHEMA / INHERIT,
 * ATTACH PARTITION, triggers, rules, publications, GRANT) could move its values out of masking.
 */
const MASKED_TABLE_DDL_ALLOWED: ReadonlySet<string> = new Set(['drop', 'truncate', 'comment', 'create_index']);

function sourceOf(t: QualifiedName): { schema?: string; table: string } {
  return t.schema === undefined ? { table: t.name } : { schema: t.schema, table: t.name };
}

/** Relations that expose column values outside any query on the table (statistics samples). */
const VALUE_EXPOSING_RELATIONS = [
  'pg_stats',
  'pg_stats_ext',
  'pg_stats_ext_exprs',
  'pg_statistic',
  'pg_statistic_ext_data',
];

/** Refused on every guarded connection by the built-in `sql-text` check (rules/sql-text.ts). */
export { SQL_TEXT_FUNCTIONS } from './sql-text.js';

export class CompiledMasking {
  readonly plan: MaskingPlan;
  /** lower-case table name → its masked columns */
  private readonly byTable = new Map<string, CompiledColumn[]>();
  private readonly protectCatalogs: boolean;
  /** Views over masked columns and the masked tables' columns, from the target's catalog. */
  private readonly catalog: MaskedCatalog | undefined;

  constructor(rules: MaskingRules | undefined, facts?: CatalogFacts) {
    const columns: MaskedColumn[] = [];
    for (const r of rules?.columns ?? []) {
      const q = parseQualifiedColumn(r.column);
      const column = [q.schema, q.table, q.column].map(quoteIdent).join('.');
      const rule: MaskedColumn = { column, strategy: r.strategy, name: r.name ?? column };
      columns.push(rule);
      const key = q.table.toLowerCase();
      this.byTable.set(key, [...(this.byTable.get(key) ?? []), { ...q, rule }]);
    }
    const detectors: DetectorStrategies = {};
    for (const d of rules?.detectors ?? []) detectors[d.detector] = d.strategy;
    this.plan = { columns, detectors };
    this.protectCatalogs = columns.length > 0 && (rules?.protectCatalogs ?? true);
    this.addInheritors(facts);
    const knowsMasked = facts?.maskedDependents !== undefined || facts?.maskedTableColumns !== undefined;
    this.catalog = facts && knowsMasked ? new MaskedCatalog(facts) : undefined;
  }

  /**
   * Partitions and inheritance children of a masked table hold its values under their own names,
   * and the agent masks them by origin as it masks the table. The catalog facts list them among
   * the masked tables without saying whose child each is, so every column of theirs that carries
   * the name of a masked column is judged as that masked column (toward refusing).
   */
  private addInheritors(facts: CatalogFacts | undefined): void {
    const rules = [...this.byTable.values()].flat();
    for (const t of facts?.maskedTableColumns ?? []) {
      const key = t.table.toLowerCase();
      const known = this.byTable.get(key) ?? [];
      if (known.some((k) => k.schema.toLowerCase() === t.schema.toLowerCase())) continue;
      const inherited = rules
        .filter((r) => t.columns.includes(r.column))
        .map((r) => ({ schema: t.schema, table: t.table, column: r.column, rule: r.rule }));
      if (inherited.length > 0) this.byTable.set(key, [...known, ...inherited]);
    }
  }

  get active(): boolean {
    return this.plan.columns.length > 0 || Object.keys(this.plan.detectors).length > 0;
  }

  /**
   * Masked columns a reference may resolve to. Names compare case-insensitively; a reference
   * without a schema may be any schema (search_path is not visible in the SQL text).
   */
  private masksFor(source: ColumnSource): CompiledColumn[] {
    // A value whose table is unknown (EXECUTE of a prepared statement) may be any masked column.
    if (source.table === ANY_TABLE) return [...this.byTable.values()].flat();
    const candidates = this.byTable.get(source.table.toLowerCase());
    if (!candidates) return [];
    return candidates.filter(
      (m) =>
        (source.schema === undefined || m.schema.toLowerCase() === source.schema.toLowerCase()) &&
        (source.column === '*' || m.column.toLowerCase() === source.column.toLowerCase()),
    );
  }

  /** Refuses any use of a masked column other than a plain select-list column going to the client. */
  check(stmt: StatementAnalysis, out: MaskedColumnUse[]): MaskingViolation | undefined {
    if (this.protectCatalogs) {
      const exposing = stmt.tables.find(
        (t) =>
          (t.schema === undefined || t.schema === 'pg_catalog') &&
          VALUE_EXPOSING_RELATIONS.includes(t.name.toLowerCase()),
      );
      if (exposing) {
        return {
          message: `${qualified(exposing)} exposes samples of column values, which masking cannot cover; it is not allowed on a connection with masked columns`,
          detail: `statistics relation ${qualified(exposing)} is refused while column masking is active`,
        };
      }
    }
    if (this.active) {
      // The agent's detectors read text; binary COPY data would pass them unread.
      const binary = stmt.copies.find((c) => c.direction === 'to' && c.target === 'stdio' && c.format === 'binary');
      if (binary) {
        return {
          message:
            'COPY ... TO STDOUT in binary format cannot be masked (detectors read text); use the text or CSV format',
          detail: 'binary COPY to the client is refused while masking is active',
        };
      }
    }
    if (this.byTable.size === 0) return undefined;
    if (stmt.opaqueCode.length > 0) {
      return {
        message: `this statement contains code Warden cannot inspect (${stmt.opaqueCode[0]}), which could read masked columns; refusing it (fail closed)`,
        detail: 'opaque code is refused while column masking is active',
      };
    }
    if (isDdlKind(stmt.kind) && !MASKED_TABLE_DDL_ALLOWED.has(stmt.kind)) {
      const table = stmt.tables.find(
        (t) => t.access === 'ddl' && this.masksFor({ ...sourceOf(t), column: '*' }).length > 0,
      );
      if (table) {
        return {
          message: `${qualified(table)} has masked columns; ${stmt.kind.replace(/_/g, ' ').toUpperCase()} on it could rename, move, copy or expose them outside masking`,
          detail: `DDL on masked table ${qualified(table)} is refused while column masking is active`,
        };
      }
    }
    const fromCatalog = this.catalog?.check(stmt, (t) => this.masksFor({ ...t, column: '*' })[0]?.rule.column);
    if (fromCatalog) return fromCatalog;
    for (const use of stmt.columns) {
      const hits = [...new Set(use.sources.flatMap((src) => this.masksFor(src)))];
      if (hits.length === 0) continue;
      if (isPlainOutput(use)) {
        // A derived (subquery/CTE) column is reported where the outer query selects it, if it does.
        if (use.output !== 'client') continue;
        for (const { rule } of hits) {
          if (!out.some((u) => u.column === rule.column && u.statementIndex === stmt.index)) {
            out.push({
              column: rule.column,
              strategy: rule.strategy,
              statementIndex: stmt.index,
              via: use.star ? 'star' : 'column',
            });
          }
        }
        continue;
      }
      const { rule } = hits[0] as CompiledColumn;
      if (use.sources.some((src) => src.table === ANY_TABLE)) {
        return {
          message: `"${use.ref}" may return any column, including masked ones such as ${rule.column}, and Warden cannot see which: ${reason(use)}; its rows may only go to the client`,
          detail: `"${use.ref}" returns columns not named in this statement while column masking is active`,
          column: rule.column,
        };
      }
      return {
        message: `column ${rule.column} is masked and may only be selected as a plain column: ${reason(use)}`,
        detail: `reference "${use.ref}" resolves to masked column ${rule.column} (rule "${rule.name}")`,
        column: rule.column,
      };
    }
    return undefined;
  }
}

/** Only a plain select-list column (or `*`) whose rows reach the client keeps the origin the agent masks by. */
export function isPlainOutput(use: ColumnUse): boolean {
  return (
    use.clause === 'select' &&
    use.via.length === 0 &&
    !use.wholeRow &&
    (use.output === 'client' || use.output === 'derived')
  );
}

/** `schema.table.column` / `table.column` as Postgres reads identifiers: unquoted ones fold to lower case. */
export function parseQualifiedColumn(name: string): { schema: string; table: string; column: string } {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")+)"|([^."\s]+))\s*(\.|$)/gy;
  for (let m = re.exec(name); m; m = re.exec(name)) {
    parts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : (m[2] ?? '').toLowerCase());
    if (m[3] === '' || re.lastIndex >= name.length) break;
  }
  const [a = '', b = '', c] = parts;
  return c === undefined ? { schema: 'public', table: a, column: b } : { schema: a, table: b, column: c };
}

/** Quotes an identifier when Postgres would not read it back unchanged. */
export function quoteIdent(ident: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(ident) ? ident : `"${ident.replace(/"/g, '""')}"`;
}

const CLAUSE_REASONS: Record<string, string> = {
  where: 'is used in a WHERE condition, and predicates reveal values by binary search',
  having: 'is used in a HAVING condition, and predicates reveal values by binary search',
  join: 'is used in a join condition, which compares its values',
  group_by: 'is used in GROUP BY, which reveals which rows share a value',
  distinct_on: 'is used in DISTINCT ON, which reveals which rows share a value',
  distinct: 'is used in SELECT DISTINCT, which reveals which rows share a value',
  order_by: 'is used in ORDER BY, which reveals the order of its values',
  window: 'is used in a window definition, which reveals ordering and grouping of its values',
  limit: 'is used in LIMIT/OFFSET',
  values: 'is copied by VALUES into data that is not masked',
  update_set: 'is copied by SET into data that is not masked',
  on_conflict: 'is used for ON CONFLICT detection, which reveals whether a value exists',
  returning: 'is returned by a RETURNING clause, whose output is not masked',
  unique_key: 'is covered by a unique index or constraint, whose violations report the duplicated values',
  from_function: 'is passed to a function in FROM, whose output is not masked',
  other: 'is used in a definition or expression whose values are not masked',
};

const OUTPUT_REASONS: Record<string, string> = {
  subquery: 'is selected by a subquery whose value feeds an expression, which is not masked',
  set_operation: 'is selected in a UNION/INTERSECT/EXCEPT branch, whose result carries no column origin to mask by',
  into: 'would be stored unmasked in a new table by SELECT INTO / CREATE TABLE AS',
  insert: 'would be copied unmasked into another table by INSERT ... SELECT',
  copy: 'would be sent by COPY, whose output carries no column origin to mask by',
  definition: 'is used in the body of a view, function, procedure or rule, whose results are not masked',
};

/** Why a use is refused, in words the client sees. */
export function reason(use: ColumnUse): string {
  const subject = use.wholeRow ? `the whole-row value "${use.ref}" containing it` : 'it';
  const why = (text: string) => `${subject} ${text}`;
  if (use.clause !== 'select') return why(CLAUSE_REASONS[use.clause] ?? CLAUSE_REASONS.other ?? '');
  const inner = use.via[use.via.length - 1];
  switch (inner?.kind) {
    case 'function':
      return why(`is passed to function ${inner.name}(), whose result is not masked`);
    case 'aggregate':
      return why(`is aggregated by ${inner.name}(), whose result is not masked`);
    case 'window':
      return why(`is used in window function ${inner.name}(), whose result is not masked`);
    case 'cast':
      return why(`is cast to ${inner.name}; casts return unmasked values and their errors echo them`);
    case 'operator':
      return why(`is used with operator ${inner.name}, whose result is not masked`);
    case 'subquery':
      return why('is used in a subquery expression, whose result is not masked');
    case 'expression':
      return why(`is used inside ${inner.name}, whose result is not masked`);
  }
  if (use.wholeRow) return why(`would arrive unmasked inside a composite value (select the columns, or ${use.ref}.*)`);
  return why(OUTPUT_REASONS[use.output ?? 'subquery'] ?? '');
}
