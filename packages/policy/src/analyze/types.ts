import type { StatementKind } from './statement-kinds.js';

/** A possibly schema-qualified name as written in the SQL (identifiers already case-folded by the parser). */
export interface QualifiedName {
  schema?: string;
  name: string;
}

/** How a statement touches a table. */
export type TableAccess = 'read' | 'write' | 'ddl';

export interface TableRef extends QualifiedName {
  access: TableAccess;
}

/** Where in a statement a column reference sits. */
export type Clause =
  | 'select' // a select-list (target) entry
  | 'where'
  | 'join' // JOIN ... ON / USING / NATURAL, MERGE ... ON
  | 'group_by'
  | 'having'
  | 'order_by'
  | 'distinct_on'
  | 'distinct' // SELECT DISTINCT: the select list's values are compared for equality
  | 'window' // WINDOW clause
  | 'limit' // LIMIT / OFFSET
  | 'values' // VALUES lists, INSERT values, MERGE ... INSERT VALUES
  | 'update_set' // UPDATE/MERGE/ON CONFLICT ... SET value expressions
  | 'on_conflict' // ON CONFLICT (...) inference columns
  | 'returning'
  | 'from_function' // arguments of functions / table functions in FROM
  | 'unique_key' // a UNIQUE / PRIMARY KEY index or constraint (violations echo the duplicated value)
  | 'other'; // anything else (DDL expressions, index definitions, policies, ...)

/** Where the rows produced by a select list go. Only a plain column sent to the client keeps its table origin. */
export type OutputSink =
  | 'client' // rows go to the client (RowDescription carries table OID + attnum, so the agent can mask)
  | 'derived' // a FROM subquery or CTE: followed through lineage to the outer query
  | 'subquery' // a scalar / EXISTS / IN / ARRAY subquery: the value feeds an expression
  | 'set_operation' // a UNION / INTERSECT / EXCEPT branch: the result loses its column origin
  | 'into' // SELECT INTO, CREATE TABLE AS, CREATE MATERIALIZED VIEW
  | 'insert' // INSERT ... SELECT
  | 'copy' // COPY (query) TO, COPY table TO: no RowDescription, nothing identifies the columns
  | 'definition'; // bodies of views, functions, procedures, DO blocks, rules

/** An expression wrapped around a column reference, outermost first in {@link ColumnUse.via}. */
export interface ExprWrapper {
  kind: 'function' | 'aggregate' | 'window' | 'cast' | 'operator' | 'subquery' | 'expression';
  /** Function name, operator, target type or parser node type. */
  name: string;
}

/**
 * One candidate the reference may resolve to. `column` is `*` for whole-row / star references;
 * `table` is {@link ANY_TABLE} when the value may come from any table (what a prepared statement
 * run by `EXECUTE` returns, for instance): masking counts it as every masked column.
 */
export interface ColumnSource {
  schema?: string;
  table: string;
  column: string;
}

export interface ColumnUse {
  /** The reference as written: `email`, `c.email`, `c.*`, `*`, `c` (whole row). */
  ref: string;
  /** Every base-table column the reference may resolve to (more than one when ambiguous). */
  sources: ColumnSource[];
  clause: Clause;
  via: ExprWrapper[];
  /** For clause `select`: where the row goes. */
  output?: OutputSink | undefined;
  /** A composite value of a whole row: `SELECT t FROM t`, `row_to_json(t)`, `t.*` inside an expression. */
  wholeRow: boolean;
  /** `*` / `t.*` expanded as a plain select-list entry (each column arrives as itself). */
  star: boolean;
  /** Byte offset in the SQL string, when the parser reports it. */
  location?: number | undefined;
}

/** {@link ColumnSource.table} of a value whose table the text cannot tell (fail closed: any table). */
export const ANY_TABLE = '*';

export interface CopyInfo {
  direction: 'to' | 'from';
  /** The data format: `FORMAT binary`, the legacy `BINARY` keyword and `WITH BINARY` are `binary`. */
  format: 'text' | 'csv' | 'binary';
  /** `stdio` is STDIN/STDOUT; `file` a server-side file; `program` a server-side shell command. */
  target: 'stdio' | 'file' | 'program';
  /** File name or program command line. */
  filename?: string;
  /** `COPY (query) TO` rather than `COPY table`. */
  query: boolean;
  relation?: QualifiedName;
  columns?: string[];
}

export interface FunctionRef extends QualifiedName {
  location?: number;
  /** The distinct numbers of arguments it is called with (`ts_rewrite` with 2 runs SQL text). */
  argCounts?: number[];
}

/** How a statement changes a setting (a GUC). */
export type SettingVia =
  | 'set' // SET, SET LOCAL, SET ROLE, SET SESSION AUTHORIZATION, SET TIME ZONE, SET NAMES, ...
  | 'reset' // RESET x, RESET ALL, SET x TO DEFAULT: back to the session's startup value
  | 'set_config' // set_config(name, value, is_local), also UPDATE pg_settings (its rule calls set_config)
  | 'function_set' // CREATE/ALTER FUNCTION/PROCEDURE ... SET / RESET
  | 'alter_role' // ALTER ROLE/USER ... SET / RESET
  | 'alter_database' // ALTER DATABASE ... SET / RESET
  | 'alter_system'; // ALTER SYSTEM SET / RESET

export interface SettingChange {
  /**
   * The setting's name in lower case as Postgres names it (`SET TIME ZONE` → `timezone`, `SET NAMES`
   * → `client_encoding`, `SET ROLE` → `role`); `all` for RESET ALL; undefined when it is not known
   * from the text (`set_config(expr, ...)`, `UPDATE pg_settings`).
   */
  name: string | undefined;
  /** The new value as written (list values joined with `, `); absent for RESET or when not a literal. */
  value?: string;
  via: SettingVia;
}

export interface UnfilteredWrite {
  kind: 'update' | 'delete';
  table: QualifiedName;
}

export interface StatementAnalysis {
  /** Position in the multi-statement string, from 0. */
  index: number;
  kind: StatementKind;
  /** The parser's node type (`SelectStmt`, `DropStmt`, ...). */
  nodeType: string;
  /** The statement's own text. */
  text: string;
  /** For EXPLAIN, PREPARE, DECLARE CURSOR, CREATE TABLE AS: the kind of the wrapped statement. */
  innerKind?: StatementKind;
  /** EXPLAIN ANALYZE (the inner statement runs). */
  explainAnalyze?: boolean;
  /** Tables/views referenced, deduplicated (CTE names excluded). */
  tables: TableRef[];
  /** Schemas named explicitly (qualified names, CREATE/DROP/GRANT ... SCHEMA). */
  schemas: string[];
  /** Functions called (deduplicated by name). */
  functions: FunctionRef[];
  columns: ColumnUse[];
  /** Modifies data: INSERT/UPDATE/DELETE/MERGE (also in a CTE), COPY FROM, SELECT INTO, CREATE TABLE AS... */
  writes: boolean;
  /** A data-modifying statement inside WITH. */
  dataModifyingCte: boolean;
  /** SELECT ... FOR UPDATE / SHARE. */
  locking: boolean;
  /** For a top-level UPDATE/DELETE: whether it has a WHERE that references a column (or WHERE CURRENT OF). */
  hasWhere?: boolean;
  /** Every UPDATE/DELETE in the statement (top level, CTEs, EXPLAIN ANALYZE, bodies) lacking a real WHERE. */
  unfilteredWrites: UnfilteredWrite[];
  /** The statement's own COPY details (kind `copy`). */
  copy?: CopyInfo;
  /** Every COPY in the statement, including those inside DO blocks and function bodies. */
  copies: CopyInfo[];
  /** Kinds of statements nested inside this one: data-modifying CTEs, EXPLAIN/PREPARE/DECLARE targets, bodies. */
  subKinds: StatementKind[];
  /** Target of SELECT INTO / CREATE TABLE AS / CREATE MATERIALIZED VIEW. */
  into?: QualifiedName;
  /** Code the analysis could not see into: dynamic SQL, untrusted languages, unparseable bodies. */
  opaqueCode: string[];
  /** Every setting the statement changes, wherever it is (top level, bodies, function SET clauses, ALTER ROLE). */
  settings: SettingChange[];
  /**
   * Operators used (`a ### b`, `OPERATOR(s.###)`, `= ANY (...)`, `x IN (subquery)`, `ORDER BY x
   * USING <`): user-defined operators run functions the text does not name.
   */
  operators: QualifiedName[];
  /** Types cast to (`x::t`, `CAST(x AS t)`, `t 'literal'`; the element type of an array cast). */
  castTypes: QualifiedName[];
}

export interface ParseFailure {
  ok: false;
  message: string;
  /** 0-based character position of the error, when known. */
  position?: number;
}

export type AnalysisResult = { ok: true; statements: StatementAnalysis[] } | ParseFailure;
