import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy, decide, defaultPolicyRules, type Decision, type PolicyRules } from './index.js';

const limitRules = (limit: number, extra: Partial<PolicyRules> = {}): PolicyRules => ({
  guardrails: [{ type: 'max_rows_affected', name: 'rows', limit }],
  ...extra,
});

describe('max_rows_affected', () => {
  const policy = compilePolicy(limitRules(50), 1);

  it.each([
    'UPDATE t SET a = 1 WHERE id = id',
    'DELETE FROM t WHERE x IS NOT NULL',
    'MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE',
    'WITH s AS (SELECT 1 AS id) UPDATE t SET a = 1 FROM s WHERE t.id = s.id',
    'WITH n AS (INSERT INTO log VALUES (1) RETURNING 1) DELETE FROM t WHERE id IN (SELECT 1 FROM n)',
    'UPDATE t SET a = 1 WHERE id = $1 RETURNING *',
  ])('a single top-level write carries the limit: %s', (sql) => {
    expect(decide(policy, sql)).toMatchObject({
      action: 'allow',
      rowLimit: {
        rule: 'rows',
        limit: 50,
        message:
          'UPDATE, DELETE and MERGE may change at most 50 rows per statement on this connection; this statement changed more and was rolled back',
      },
    });
  });

  it.each([
    ['WITH d AS (DELETE FROM t WHERE id > 0 RETURNING *) SELECT count(*) FROM d', 'DELETE inside SELECT'],
    ['WITH d AS (DELETE FROM t WHERE id > 0) UPDATE u SET a = 1 WHERE id = 1', 'DELETE inside UPDATE'],
    ['EXPLAIN ANALYZE UPDATE t SET a = 1 WHERE id = 1', 'UPDATE inside EXPLAIN'],
    ['DO $$ BEGIN DELETE FROM t WHERE id > 0; END $$', 'DELETE inside DO'],
    [
      "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'UPDATE t SET a = 1 WHERE id > 0'",
      'UPDATE inside CREATE FUNCTION',
    ],
    [
      'CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t WHERE a = 1; END',
      'DELETE inside CREATE FUNCTION',
    ],
    ['CREATE RULE r AS ON INSERT TO t DO ALSO DELETE FROM u WHERE a = 1', 'DELETE inside CREATE RULE'],
    ['PREPARE p AS DELETE FROM t WHERE id = $1', 'DELETE inside PREPARE'],
  ])('a nested write cannot be counted: %s', (sql, what) => {
    const d = decide(policy, sql);
    expect(d).toMatchObject({ action: 'block', rule: 'rows', statementIndex: 0 });
    expect(d.action === 'block' && d.message).toBe(
      `${what} cannot be held to the limit of 50 rows of rule "rows": the row count Postgres reports is that of the outer statement only; send the UPDATE/DELETE/MERGE as a query of its own, outside WITH, EXPLAIN ANALYZE and bodies`,
    );
  });

  it('a write that shares its query string with other statements is refused', () => {
    expect(decide(policy, 'BEGIN; UPDATE t SET a = 1 WHERE id = 1; COMMIT')).toEqual({
      action: 'block',
      rule: 'rows',
      message:
        'UPDATE as one of 3 statements in one query string cannot be held to the limit of 50 rows of rule "rows": the row count of each statement of a multi-statement string cannot be checked before the next one runs; send the UPDATE/DELETE/MERGE as a query of its own, outside WITH, EXPLAIN ANALYZE and bodies',
      detail:
        'UPDATE as one of 3 statements in one query string is refused by max_rows_affected rule "rows" (limit 50) because its rows cannot be counted',
      statementIndex: 1,
    });
  });

  it('other statements carry no limit; plain EXPLAIN runs nothing', () => {
    for (const sql of [
      'SELECT 1',
      'INSERT INTO t VALUES (1)',
      'EXPLAIN DELETE FROM t WHERE id = 1',
      'SELECT 1; SELECT 2',
    ]) {
      const d = decide(policy, sql);
      expect(d.action, sql).toBe('allow');
      expect(d.action === 'allow' && d.rowLimit, sql).toBeUndefined();
    }
  });

  it('kinds narrows what is limited; a custom message reaches rowLimit', () => {
    const deletes = compilePolicy(
      { guardrails: [{ type: 'max_rows_affected', name: 'd', limit: 0, kinds: ['delete'], message: 'no deletes' }] },
      1,
    );
    expect(decide(deletes, 'DELETE FROM t WHERE id = 1')).toMatchObject({
      rowLimit: { rule: 'd', limit: 0, message: 'no deletes' },
    });
    const update = decide(deletes, 'UPDATE t SET a = 1 WHERE id = 1');
    expect(update.action === 'allow' && update.rowLimit).toBeUndefined();
    expect(decide(deletes, 'WITH x AS (UPDATE t SET a = 1 WHERE id = 1) SELECT 1').action).toBe('allow');
  });

  it('the strictest of several rules applies', () => {
    const two = compilePolicy(
      {
        guardrails: [
          { type: 'max_rows_affected', name: 'loose', limit: 100 },
          { type: 'max_rows_affected', name: 'strict', limit: 10, kinds: ['update'] },
        ],
      },
      1,
    );
    expect(decide(two, 'UPDATE t SET a = 1 WHERE id = 1')).toMatchObject({ rowLimit: { rule: 'strict', limit: 10 } });
    expect(decide(two, 'DELETE FROM t WHERE id = 1')).toMatchObject({ rowLimit: { rule: 'loose', limit: 100 } });
  });

  it('the limit is part of the cached decision, also across numeric literals', () => {
    const a = decide(policy, 'UPDATE t SET a = 1 WHERE id = 7');
    const b = decide(policy, 'UPDATE t SET a = 2 WHERE id = 8');
    expect(a.action === 'allow' && a.rowLimit?.limit).toBe(50);
    expect(b.action === 'allow' && b.rowLimit?.limit).toBe(50);
    expect(Object.isFrozen(a.action === 'allow' && a.rowLimit)).toBe(true);
  });

  it('a review carries the limit the approved statement runs under', () => {
    const held = compilePolicy(
      limitRules(5, {
        reviews: [{ type: 'require_review', name: 'r', match: { kinds: ['update'] }, approverGroups: ['dba'] }],
      }),
      1,
      { reviews: 'hold' },
    );
    expect(decide(held, 'UPDATE t SET a = 1 WHERE id = 1')).toMatchObject({
      action: 'review',
      rowLimit: { rule: 'rows', limit: 5 },
    });
  });

  it('is validated: limit is a non-negative integer, kinds only update/delete/merge', () => {
    expect(() => compilePolicy(limitRules(-1), 1)).toThrow(/limit/);
    expect(() => compilePolicy(limitRules(1.5), 1)).toThrow(/limit/);
    expect(() =>
      compilePolicy({ guardrails: [{ type: 'max_rows_affected', name: 'x', limit: 1, kinds: ['insert'] }] }, 1),
    ).toThrow(/kinds/);
  });
});

/** Writes that hit every row by WHERE clauses the require_where rule accepts, nested every way. */
function writes(): fc.Arbitrary<{ sql: string; single: boolean }> {
  const where = fc.constantFrom(
    'id = id',
    'x IS NOT NULL',
    'id > 0',
    'id = 1',
    'true',
    '1 = 1',
    'a = a OR true',
    'EXISTS (SELECT 1)',
  );
  const write = where.chain((w) =>
    fc.constantFrom(
      `UPDATE t SET a = a + 1 WHERE ${w}`,
      `DELETE FROM t WHERE ${w}`,
      `UPDATE t SET a = 1 FROM u WHERE t.id = u.id AND ${w}`,
      `DELETE FROM t USING u WHERE ${w}`,
      `MERGE INTO t USING u ON true WHEN MATCHED THEN DELETE`,
      `MERGE INTO t USING u ON ${w} WHEN MATCHED THEN UPDATE SET a = 1`,
      `MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED AND ${w} THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (1)`,
    ),
  );
  return write.chain((w) =>
    fc.constantFrom(
      { sql: w, single: true },
      { sql: `WITH s AS (SELECT 1) ${w}`, single: true },
      { sql: `WITH x AS (${w} RETURNING 1) SELECT * FROM x`, single: false },
      { sql: `WITH x AS (${w}) ${w}`, single: false },
      { sql: `WITH x AS (WITH y AS (${w}) SELECT 1) SELECT * FROM x`, single: false },
      { sql: `EXPLAIN ANALYZE ${w}`, single: false },
      { sql: `EXPLAIN (ANALYZE, BUFFERS) ${w}`, single: false },
      { sql: `DO $$ BEGIN ${w}; END $$`, single: false },
      { sql: `DO $$ BEGIN IF true THEN ${w}; END IF; END $$`, single: false },
      { sql: `SELECT 1; ${w}`, single: false },
      { sql: `${w}; ${w}`, single: false },
      { sql: `BEGIN; ${w}; COMMIT`, single: false },
      // Rule actions cannot be MERGE (a syntax error).
      {
        sql: w.startsWith('MERGE') ? `SELECT 1; ${w}` : `CREATE RULE r AS ON INSERT TO v DO INSTEAD ${w}`,
        single: false,
      },
      { sql: `PREPARE p AS ${w}`, single: false },
      { sql: `CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $f$ ${w} $f$`, single: false },
      { sql: `CREATE PROCEDURE p() LANGUAGE plpgsql AS $f$ BEGIN ${w}; END $f$`, single: false },
    ),
  );
}

const carriesLimitOrBlocks = (d: Decision, single: boolean) =>
  d.action === 'block' ||
  (single && d.action !== 'review' ? d.rowLimit !== undefined : d.action === 'review' && d.rowLimit !== undefined);

describe('property: every write is either held to the limit or refused', () => {
  const limited = compilePolicy(limitRules(100), 'limited');
  const defaults = compilePolicy(defaultPolicyRules(), 'defaults');
  it('under a max_rows_affected rule alone and under the default pack', () => {
    fc.assert(
      fc.property(writes(), ({ sql, single }) => {
        const d = decide(limited, sql);
        expect(d.action === 'block' ? d.rule : 'rows', sql).toBe('rows'); // every generated string parses
        expect(carriesLimitOrBlocks(d, single), sql).toBe(true);
        // Only a string that is exactly one top-level write is allowed at all.
        expect(d.action === 'allow', sql).toBe(single);
        expect(carriesLimitOrBlocks(decide(defaults, sql), single), sql).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
