import { parseSql } from './parser.js';

/** PL/pgSQL's expression parse modes (PostgreSQL's RawParseMode). */
const PARSE_DEFAULT = 0;
const PARSE_TYPE_NAME = 1;
const PARSE_EXPR = 2;

/** More ways to split an assignment than this is refused rather than parsed (each try runs the parser). */
const MAX_ASSIGNMENT_SPLITS = 32;

/**
 * The SQL statements that analyze one PL/pgSQL expression (`PLpgSQL_expr.query`), or undefined
 * when it cannot be read soundly (the caller treats the body as opaque).
 *
 * An assignment (`target := value`, `target = value`) is read as `SELECT target` and `SELECT value`,
 * since a target's subscripts are expressions too (`arr[(SELECT ...)] := 1`). Where the target ends
 * is not marked in the text, and `=` or `:=` may also appear inside it, so every split whose two
 * sides parse is analyzed: the split Postgres uses is among them.
 */
export function plpgsqlStatements(query: string, parseMode: number): string[] | undefined {
  if (parseMode === PARSE_DEFAULT) return [query];
  if (parseMode === PARSE_TYPE_NAME) return [`SELECT NULL::${query}`];
  if (parseMode === PARSE_EXPR) return [`SELECT ${query}`];
  return assignmentStatements(query);
}

function assignmentStatements(query: string): string[] | undefined {
  const splits: Array<[number, number]> = [];
  for (let i = query.indexOf('='); i !== -1; i = query.indexOf('=', i + 1)) {
    splits.push(i > 0 && query[i - 1] === ':' ? [i - 1, 2] : [i, 1]);
    if (splits.length > MAX_ASSIGNMENT_SPLITS) return undefined;
  }
  const out: string[] = [];
  for (const [at, length] of splits) {
    const target = `SELECT ${query.slice(0, at)}`;
    const value = `SELECT ${query.slice(at + length)}`;
    if (parsesAsOneStatement(target) && parsesAsOneStatement(value)) out.push(target, value);
  }
  return out.length > 0 ? out : undefined;
}

function parsesAsOneStatement(sql: string): boolean {
  const parsed = parseSql(sql);
  return parsed.ok && parsed.stmts.length === 1;
}
