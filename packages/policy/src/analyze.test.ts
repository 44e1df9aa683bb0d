import { describe, expect, it } from 'vitest';
import { one, src, uses } from './test-tables.js';

describe('column references and their context', () => {
  it('plain select-list columns, qualified and not, and * / t.*', () => {
    expect(uses('SELECT a, t.b, public.t.c, *, t.* FROM public.t')).toEqual([
      { ref: 'a', clause: 'select', output: 'client', sources: [src('t', 'a', 'public')] },
      { ref: 't.b', clause: 'select', output: 'client', sources: [src('t', 'b', 'public')] },
      { ref: 'public.t.c', clause: 'select', output: 'client', sources: [src('t', 'c', 'public')] },
      { ref: '*', clause: 'select', output: 'client', star: true, sources: [src('t', '*', 'public')] },
      { ref: 't.*', clause: 'select', output: 'client', star: true, sources: [src('t', '*', 'public')] },
    ]);
  });

  it('inside functions, casts, operators, aggregates, window functions and CASE', () => {
    expect(
      uses("SELECT lower(a), b::int, c || 'x', max(d), rank() OVER (ORDER BY e), CASE WHEN f THEN 1 END FROM t"),
    ).toEqual([
      {
        ref: 'a',
        clause: 'select',
        output: 'client',
        via: [{ kind: 'function', name: 'lower' }],
        sources: [src('t', 'a')],
      },
      {
        ref: 'b',
        clause: 'select',
        output: 'client',
        via: [{ kind: 'cast', name: 'pg_catalog.int4' }],
        sources: [src('t', 'b')],
      },
      {
        ref: 'c',
        clause: 'select',
        output: 'client',
        via: [{ kind: 'operator', name: '||' }],
        sources: [src('t', 'c')],
      },
      {
        ref: 'd',
        clause: 'select',
        output: 'client',
        via: [{ kind: 'aggregate', name: 'max' }],
        sources: [src('t', 'd')],
      },
      {
        ref: 'e',
        clause: 'select',
        output: 'client',
        via: [{ kind: 'window', name: 'rank' }],
        sources: [src('t', 'e')],
      },
      {
        ref: 'f',
        clause: 'select',
        output: 'client',
        via: [{ kind: 'expression', name: 'CASE' }],
        sources: [src('t', 'f')],
      },
    ]);
  });

  it('WHERE, JOIN ON/USING, GROUP BY, HAVING, ORDER BY (by name, alias and position), DISTINCT ON, LIMIT', () => {
    const got = uses(
      'SELECT DISTINCT ON (a) a AS x, b FROM t JOIN u ON t.id = u.id JOIN v USING (k) WHERE c = 1 GROUP BY 2 HAVING count(d) > 0 ORDER BY x, e LIMIT 1',
    ).map((u) => [u.ref, u.clause]);
    expect(got).toEqual([
      ['t.id', 'join'],
      ['u.id', 'join'],
      ['k', 'join'],
      ['a', 'select'],
      ['b', 'select'],
      ['c', 'where'],
      ['2', 'group_by'],
      ['d', 'having'],
      ['a', 'distinct_on'],
      ['x', 'order_by'],
      ['x', 'order_by'],
      ['e', 'order_by'],
    ]);
  });

  it('unqualified names are ambiguous across every table in scope, including enclosing queries', () => {
    expect(uses('SELECT id FROM a, b.c WHERE x IN (SELECT y FROM d)').map((u) => [u.ref, u.sources])).toEqual([
      ['id', [src('a', 'id'), src('c', 'id', 'b')]],
      ['x', [src('a', 'x'), src('c', 'x', 'b')]],
      ['y', [src('d', 'y'), src('a', 'y'), src('c', 'y', 'b')]],
    ]);
  });

  it('whole-row references: SELECT t, row_to_json(t), t.* inside a function', () => {
    expect(uses('SELECT t, row_to_json(t.*) FROM t')).toEqual([
      { ref: 't', clause: 'select', output: 'client', sources: [src('t', 't')] },
      { ref: 't', clause: 'select', output: 'client', wholeRow: true, sources: [src('t', '*')] },
      {
        ref: 't.*',
        clause: 'select',
        output: 'client',
        wholeRow: true,
        via: [{ kind: 'function', name: 'row_to_json' }],
        sources: [src('t', '*')],
      },
    ]);
  });

  it('subqueries and CTEs resolve through to base-table columns', () => {
    expect(
      uses('WITH c AS (SELECT email AS e FROM cust) SELECT e FROM c').map((u) => [u.ref, u.output, u.sources]),
    ).toEqual([
      ['email', 'derived', [src('cust', 'email')]],
      ['e', 'client', [src('cust', 'email')]],
    ]);
    // Renaming after `*`: which column `x` is cannot be known, so it may be any of them.
    expect(uses('SELECT s.x FROM (SELECT * FROM cust) AS s(x)').map((u) => [u.ref, u.sources])).toEqual([
      ['*', [src('cust', '*')]],
      ['s.x', [src('cust', '*'), src('cust', 'x')]],
    ]);
    expect(uses('SELECT (SELECT b FROM u LIMIT 1), a FROM t').map((u) => [u.ref, u.clause, u.output])).toEqual([
      ['b', 'select', 'subquery'],
      ['a', 'select', 'client'],
    ]);
    expect(uses('SELECT a FROM t UNION SELECT b FROM u').map((u) => [u.ref, u.output])).toEqual([
      ['a', 'set_operation'],
      ['b', 'set_operation'],
    ]);
  });

  it('select-list outputs that do not reach the client: INTO, INSERT ... SELECT, COPY, views', () => {
    expect(uses('SELECT a INTO x FROM t')[0]?.output).toBe('into');
    expect(uses('CREATE TABLE x AS SELECT a FROM t')[0]?.output).toBe('into');
    expect(uses('INSERT INTO x SELECT a FROM t')[0]?.output).toBe('insert');
    expect(uses('COPY (SELECT a FROM t) TO STDOUT')[0]?.output).toBe('copy');
    expect(uses('COPY t TO STDOUT')).toEqual([
      { ref: '*', clause: 'select', output: 'copy', star: true, sources: [src('t', '*')] },
    ]);
    expect(uses('CREATE VIEW v AS SELECT a FROM t')[0]?.output).toBe('definition');
  });

  it('writes: RETURNING, SET values, ON CONFLICT, MERGE', () => {
    expect(uses('UPDATE t SET a = b WHERE c = 1 RETURNING d').map((u) => [u.ref, u.clause])).toEqual([
      ['b', 'update_set'],
      ['c', 'where'],
      ['d', 'returning'],
    ]);
    expect(
      uses('INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET b = excluded.b RETURNING *').map((u) => [
        u.ref,
        u.clause,
      ]),
    ).toEqual([
      ['a', 'on_conflict'],
      ['excluded.b', 'update_set'],
      ['*', 'returning'],
    ]);
    expect(
      uses('MERGE INTO t USING s ON t.k = s.k WHEN MATCHED AND s.x > 0 THEN UPDATE SET a = s.a').map((u) => [
        u.ref,
        u.clause,
      ]),
    ).toEqual([
      ['t.k', 'join'],
      ['s.k', 'join'],
      ['s.x', 'where'],
      ['s.a', 'update_set'],
    ]);
  });
});

describe('routine bodies', () => {
  it('PL/pgSQL DO blocks: embedded statements count, dynamic SQL is opaque', () => {
    const s = one("DO $$ DECLARE r text; BEGIN PERFORM pg_read_file('x'); DELETE FROM t; EXECUTE 'x'; END $$");
    expect(s.functions.map((f) => f.name)).toEqual(['pg_read_file']);
    expect(s.subKinds).toEqual(['select', 'delete']);
    expect(s.unfilteredWrites).toEqual([{ kind: 'delete', table: { name: 't' } }]);
    expect(s.opaqueCode).toEqual(['DO block: dynamic SQL (EXECUTE)']);
  });

  it('SQL function bodies are parsed; other languages are opaque', () => {
    const s = one("CREATE FUNCTION f() RETURNS text LANGUAGE sql AS 'SELECT lo_export(1, ''/tmp/x'')'");
    expect(s.functions.map((f) => f.name)).toEqual(['lo_export']);
    expect(
      one('CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT dblink_exec(1); END').functions.map(
        (f) => f.name,
      ),
    ).toEqual(['dblink_exec']);
    expect(one("CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS 'return 1'").opaqueCode).toEqual([
      'function f in language plpython3u',
    ]);
    expect(one("CREATE FUNCTION g(text) RETURNS text LANGUAGE internal AS 'pg_read_file_v2'").opaqueCode).toEqual([
      'function g in language internal',
    ]);
  });
});
