import { unwrap } from './nodes.js';
import { parseSql, type RawStatement } from './parser.js';
import { Scope } from './scope.js';
import { statementKind } from './statement-kinds.js';
import { StatementWalker } from './statements.js';
import type { AnalysisResult, StatementAnalysis } from './types.js';

/**
 * Parses `sql` with the PostgreSQL parser and describes every statement in it: kind, tables,
 * columns and where they are used, functions, writes, COPY details. Pure; throws nothing.
 */
export function analyze(sql: string): AnalysisResult {
  if (sql.trim() === '') return { ok: true, statements: [] };
  const parsed = parseSql(sql);
  if (!parsed.ok) return parsed;
  const slicer = textSlicer(sql);
  const statements: StatementAnalysis[] = [];
  try {
    for (const raw of parsed.stmts) {
      const w = unwrap(raw.stmt);
      if (!w) continue;
      statements.push(analyzeStatement(w[0], w[1], statements.length, slicer(raw)));
    }
  } catch (err) {
    // A tree too deep for the JavaScript stack (thousands of nested operators): refuse, never throw.
    return {
      ok: false,
      message: `statement too complex to analyze (${err instanceof Error ? err.message : String(err)})`,
    };
  }
  return { ok: true, statements };
}

function analyzeStatement(
  nodeType: string,
  body: Record<string, unknown>,
  index: number,
  text: string,
): StatementAnalysis {
  const kind = statementKind(nodeType, body);
  const walker = new StatementWalker(kind, text);
  walker.statement(nodeType, body, new Scope(), 'client', true);
  const analysis: StatementAnalysis = {
    index,
    kind,
    nodeType,
    text,
    tables: walker.tables,
    schemas: [...walker.schemas],
    functions: walker.functions,
    columns: walker.columns,
    writes: walker.writes,
    dataModifyingCte: walker.dataModifyingCte,
    locking: walker.locking,
    unfilteredWrites: walker.unfilteredWrites,
    copies: walker.copies,
    subKinds: [...walker.subKinds],
    opaqueCode: walker.opaqueCode,
    settings: walker.settings,
    operators: walker.operators,
    castTypes: walker.castTypes,
  };
  if (walker.innerKind !== undefined) analysis.innerKind = walker.innerKind;
  if (walker.explainAnalyze !== undefined) analysis.explainAnalyze = walker.explainAnalyze;
  if (walker.hasWhere !== undefined) analysis.hasWhere = walker.hasWhere;
  if (walker.copy !== undefined) analysis.copy = walker.copy;
  if (walker.into !== undefined) analysis.into = walker.into;
  return analysis;
}

/** Statement locations are byte offsets into the UTF-8 text. */
function textSlicer(sql: string): (raw: RawStatement) => string {
  // eslint-disable-next-line no-control-regex
  const ascii = !/[^\x00-\x7f]/.test(sql);
  const bytes = ascii ? undefined : Buffer.from(sql, 'utf8');
  return (raw) => {
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : undefined;
    const text = bytes ? bytes.subarray(start, end).toString('utf8') : sql.slice(start, end);
    return text.trim();
  };
}
