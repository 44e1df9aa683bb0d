import { describe, expect, it } from 'vitest';
import { compilePolicy, decide, parserCallCount } from './index.js';
import { numericLiteralShape } from './literal-shape.js';

describe('numericLiteralShape', () => {
  it.each([
    [
      'SELECT abalance FROM pgbench_accounts WHERE aid = 84342;',
      'SELECT abalance FROM pgbench_accounts WHERE aid = 0;',
    ],
    ['UPDATE t SET x = 1.5e10 WHERE id = 7', 'UPDATE t SET x = 0 WHERE id = 0'],
    ['SELECT .5, 1_000', 'SELECT .0, 0'],
  ])('folds numbers: %s', (sql, shape) => {
    expect(numericLiteralShape(sql)).toBe(shape);
  });

  it.each([
    [
      "SELECT '5', E'\\'7', \"col9\", x1, $1, $$ 8 $$, $fn$ 9 $fn$ FROM t -- 3\n",
      "SELECT '5', E'\\'7', \"col9\", x1, $1, $$ 8 $$, $fn$ 9 $fn$ FROM t -- 3\n",
    ],
    ['SELECT /* 1 /* 2 */ 3 */ a FROM t', 'SELECT /* 1 /* 2 */ 3 */ a FROM t'],
    [
      "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql",
      "CREATE FUNCTION f() RETURNS int AS 'SELECT 1' LANGUAGE sql",
    ],
  ])('keeps strings, identifiers, parameters, dollar quotes and comments: %s', (sql, shape) => {
    expect(numericLiteralShape(sql)).toBe(shape);
  });

  it.each([
    'SELECT a, b FROM t ORDER BY 2',
    'SELECT a FROM t GROUP BY 1',
    'SELECT DISTINCT ON (1) a FROM t',
    "SELECT 'unterminated 5",
  ])('keeps the exact text where a number may be a position or the scan is unsure: %s', (sql) => {
    expect(numericLiteralShape(sql)).toBe(sql);
  });
});

describe('decision cache across numeric literals', () => {
  const masking = { masking: { columns: [{ column: 'public.customers.ssn', strategy: 'redact' }] } };

  it('reuses one decision for statements that differ only in numbers', () => {
    const policy = compilePolicy({ ...masking, guardrails: [{ type: 'require_where', name: 'w' }] }, 'fold-1');
    decide(policy, 'SELECT name FROM customers WHERE id = 1');
    const before = parserCallCount();
    for (let i = 2; i < 50; i++)
      expect(decide(policy, `SELECT name FROM customers WHERE id = ${i}`).action).toBe('allow');
    expect(parserCallCount()).toBe(before);
  });

  it('still tells positional references apart', () => {
    const policy = compilePolicy(masking, 'fold-2');
    expect(decide(policy, 'SELECT name, ssn FROM customers ORDER BY 1').action).toBe('allow');
    expect(decide(policy, 'SELECT name, ssn FROM customers ORDER BY 2')).toMatchObject({ action: 'block' });
  });

  it('keeps exact keys when a regex rule could match digits', () => {
    const policy = compilePolicy(
      { guardrails: [{ type: 'deny_pattern', name: 'no-42', pattern: '\\b42\\b' }] },
      'fold-3',
    );
    expect(decide(policy, 'SELECT 41').action).toBe('allow');
    expect(decide(policy, 'SELECT 42')).toMatchObject({ action: 'block', rule: 'no-42' });
  });

  it('never shares a decision between different string literals', () => {
    const policy = compilePolicy({ guardrails: [{ type: 'deny_kinds', name: 'no-drop', kinds: ['drop*'] }] }, 'fold-4');
    expect(decide(policy, 'DO $$ BEGIN PERFORM 1; END $$').action).toBe('allow');
    expect(decide(policy, 'DO $$ BEGIN DROP TABLE t; END $$')).toMatchObject({ action: 'block' });
  });
});
