import { describe, expect, it } from 'vitest';
import { analyze, compilePolicy, decide, type ColumnUse, type PolicyRules, type StatementAnalysis } from './index.js';

/**
 * Table-driven decision tests. A row is the SQL and its exact expected decision:
 * - `[sql, 'allow']`: allowed, no masked column returned;
 * - `[sql, [[column, strategy, statementIndex, via], ...]]`: allowed, returning these masked columns;
 * - `[sql, rule, message, detail, statementIndex, column?]`: blocked.
 */
export type DecisionRow =
  | [string, 'allow']
  | [string, Array<[string, string, number, 'column' | 'star']>]
  | [string, string, string, string, number]
  | [string, string, string, string, number, string];

export function expectedDecision(row: DecisionRow): unknown {
  if (row.length === 2) {
    const masked = row[1] === 'allow' ? [] : row[1];
    return {
      action: 'allow',
      statements: expect.any(Array),
      maskedColumns: masked.map(([column, strategy, statementIndex, via]) => ({
        column,
        strategy,
        statementIndex,
        via,
      })),
    };
  }
  const [, rule, message, detail, statementIndex, column] = row;
  return { action: 'block', rule, message, detail, statementIndex, ...(column === undefined ? {} : { column }) };
}

export function decisionTable(title: string, rules: PolicyRules, rows: DecisionRow[]): void {
  describe(title, () => {
    const policy = compilePolicy(rules, 1);
    it.each(rows.map((row) => [row[0], row] as const))('%s', (sql, row) => {
      expect(decide(policy, sql)).toEqual(expectedDecision(row));
    });
  });
}

/** Column masking rules shared by the masking tests. */
export const maskingRules: PolicyRules = {
  masking: {
    columns: [
      { column: 'public.customers.email', strategy: 'domain' },
      { column: 'customers.card', strategy: 'redact', name: 'cards' },
      { column: 'billing.accounts.iban', strategy: 'hash' },
    ],
  },
};

const ruleNames: Record<string, string> = {
  'public.customers.email': 'public.customers.email',
  'public.customers.card': 'cards',
  'billing.accounts.iban': 'billing.accounts.iban',
};

/** The exact block decision for a masked column used outside a plain select-list position. */
export function bypass(sql: string, column: string, ref: string, reason: string, statementIndex = 0): DecisionRow {
  return [
    sql,
    'masking',
    `column ${column} is masked and may only be selected as a plain column: ${reason}`,
    `reference "${ref}" resolves to masked column ${column} (rule "${ruleNames[column]}")`,
    statementIndex,
    column,
  ];
}

/** The analysis of a one-statement string. */
export function one(sql: string): StatementAnalysis {
  const r = analyze(sql);
  if (!r.ok) throw new Error(`unexpected parse failure: ${r.message}`);
  expect(r.statements).toHaveLength(1);
  return r.statements[0] as StatementAnalysis;
}

/** Column uses reduced to what the tests compare. */
export function uses(sql: string): Array<Partial<ColumnUse>> {
  return one(sql).columns.map((u) => {
    const out: Partial<ColumnUse> = { ref: u.ref, clause: u.clause, sources: u.sources };
    if (u.via.length > 0) out.via = u.via;
    if (u.output !== undefined) out.output = u.output;
    if (u.wholeRow) out.wholeRow = true;
    if (u.star) out.star = true;
    return out;
  });
}

/** A column source, as the analysis reports it. */
export const src = (table: string, column: string, schema?: string) =>
  schema === undefined ? { table, column } : { schema, table, column };
