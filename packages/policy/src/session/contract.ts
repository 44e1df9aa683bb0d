/**
 * What the data path and the policy share about one live Postgres session: the settings that
 * decide how SQL text is lexed (pinned on guarded connections, so the gateway's parser and the
 * server read the same text the same way), and the facts the agent reads from the target's
 * catalog at session start (so function rules follow operators, casts, aggregates and type I/O
 * to the function that actually runs).
 */

/**
 * Settings that change how the server lexes SQL text. On a guarded connection the agent starts the
 * target session with exactly these values; a client asking for another value is refused, every
 * statement that would change one is refused, and the session ends if the server ever reports a
 * different value.
 */
export const LEXING_PINS: Readonly<Record<string, string>> = Object.freeze({
  standard_conforming_strings: 'on',
  client_encoding: 'UTF8',
  backslash_quote: 'safe_encoding',
});

/**
 * Client encodings read byte for byte as the pinned UTF8: its spellings, and SQL_ASCII (what
 * interactive psql asks for in a C locale), under which a UTF8 server converts nothing and
 * validates input as UTF8, exactly as it does for a UTF8 client.
 */
export const PINNED_CLIENT_ENCODINGS: ReadonlySet<string> = new Set(['utf8', 'utf-8', 'unicode', 'sql_ascii']);

/** Whether `value` is what the pin for `name` asks for (case and encoding aliases as Postgres reads them). */
export function matchesPin(name: string, value: string): boolean {
  const key = name.toLowerCase();
  const pinned = LEXING_PINS[key];
  if (pinned === undefined) return true;
  const v = value
    .trim()
    .toLowerCase()
    .replace(/^'(.*)'$/, '$1');
  if (key === 'client_encoding') return PINNED_CLIENT_ENCODINGS.has(v);
  if (key === 'standard_conforming_strings') return ['on', 'true', 'yes', '1'].includes(v);
  return v === pinned;
}

/** A catalog object named `schema.name` (identifiers as stored, unquoted). */
export type CatalogName = string;

/**
 * User-defined objects (OID >= 16384, i.e. not built in) of the target database through which a
 * statement can run a function without naming it. Read by the agent at session start.
 */
export interface CatalogFacts {
  /** `OPERATOR(schema.name)` / `a ### b` → the function implementing it (`oprcode`). */
  operators: { schema: string; name: string; function: CatalogName }[];
  /** A cast between two types (`schema.name`) and the function it calls; context i(mplicit), a(ssignment), e(xplicit). */
  casts: { source: CatalogName; target: CatalogName; function: CatalogName; context: 'i' | 'a' | 'e' }[];
  /** Aggregates and the functions they call (transition, final, combine, serial, deserial, moving-aggregate ones). */
  aggregates: { schema: string; name: string; functions: CatalogName[] }[];
  /** Types and their I/O functions (input, output, receive, send, typmod in/out, analyze, subscript). */
  types: { schema: string; name: string; functions: CatalogName[] }[];
  /**
   * Read only when the session masks columns. Views and materialized views that read a masked
   * column, directly or through other views (or the whole row of its table): their rows carry the
   * view as origin, so the agent cannot mask them. `column` is the masked column it derives from,
   * `schema.table.column` as the masking rule names it.
   */
  maskedDependents?: MaskedDependent[];
  /**
   * Read only when the session masks columns. Every column (system columns included) of each table
   * with masked columns: `q.name` where `name` is none of them calls a function on the whole row.
   */
  maskedTableColumns?: MaskedTableColumns[];
}

/** A view or materialized view over a masked column (see {@link CatalogFacts.maskedDependents}). */
export interface MaskedDependent {
  schema: string;
  name: string;
  kind: 'view' | 'materialized_view';
  /** The masked column it derives from, `schema.table.column`. */
  column: string;
}

/** The column names of one table with masked columns (see {@link CatalogFacts.maskedTableColumns}). */
export interface MaskedTableColumns {
  schema: string;
  table: string;
  columns: string[];
}

/** Attributes of the role the agent logs in to the target as: what no statement policy can contain. */
export interface TargetRoleFacts {
  superuser: boolean;
  createRole: boolean;
  /** Membership (direct or inherited) in pg_read_server_files, pg_write_server_files, pg_execute_server_program. */
  serverFileRoles: string[];
}

/** What the agent reports about a guarded session's target before relaying starts. */
export interface SessionFacts {
  catalog: CatalogFacts;
  role: TargetRoleFacts;
}
