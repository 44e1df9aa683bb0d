import { loadModule, parsePlPgSQLSync, parseSync } from 'libpg-query';

// The PostgreSQL parser is compiled to WebAssembly; it is instantiated once, when this module is
// first imported, so every call after that is synchronous.
await loadModule();

/** A parse-tree node in libpg-query's JSON form: `{ NodeType: { ...fields } }`. */
export type PgNode = Record<string, unknown>;

export interface RawStatement {
  stmt?: PgNode;
  stmt_location?: number;
  stmt_len?: number;
}

let parseCount = 0;

/** How many times the SQL parser has run in this process (top-level statements and embedded bodies). */
export function parserCallCount(): number {
  return parseCount;
}

export type ParseOutcome = { ok: true; stmts: RawStatement[] } | { ok: false; message: string; position?: number };

export function parseSql(sql: string): ParseOutcome {
  parseCount++;
  try {
    const result = parseSync(sql) as unknown as { stmts?: RawStatement[] };
    return { ok: true, stmts: result.stmts ?? [] };
  } catch (err) {
    const details = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    const message = err instanceof Error ? err.message : String(err);
    return details?.cursorPosition !== undefined
      ? { ok: false, message, position: details.cursorPosition }
      : { ok: false, message };
  }
}

/** Parses a `DO` block or `CREATE FUNCTION ... LANGUAGE plpgsql` statement into PL/pgSQL's own tree. */
export function parsePlpgsql(sql: string): { ok: true; tree: unknown } | { ok: false; message: string } {
  parseCount++;
  try {
    return { ok: true, tree: parsePlPgSQLSync(sql) };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
