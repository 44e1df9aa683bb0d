import { describe, expect, it } from 'vitest';
import { plpgsqlStatements } from './analyze/plpgsql-text.js';
import { compilePolicy, decide } from './index.js';
import { maskingRules } from './test-tables.js';

const policy = compilePolicy(maskingRules, 1);
const EMAIL = 'public.customers.email';

/** `DO $$ DECLARE <declare> BEGIN <body> END $$` */
const doBlock = (declare: string, body: string) => `DO $$ DECLARE ${declare} BEGIN ${body} END $$`;

describe('PL/pgSQL: every expression is analyzed, assignment targets included', () => {
  it.each([
    [
      'subscript of an assignment target',
      doBlock('arr int[];', 'arr[(SELECT length(email) FROM customers LIMIT 1)] := 1;'),
    ],
    [
      'subscript containing = and :=',
      doBlock('arr int[];', "arr[(SELECT count(*) FROM customers WHERE email = 'a:=b')] := 1;"),
    ],
    ['record field assigned with =', doBlock('r record;', 'r.f = (SELECT email FROM customers LIMIT 1);')],
    ['DECLARE default', doBlock('v text := (SELECT email FROM customers LIMIT 1);', 'NULL;')],
    ['cursor declaration', doBlock('c CURSOR FOR SELECT email FROM customers;', 'OPEN c;')],
    ['OPEN ... FOR query', doBlock('c refcursor;', 'OPEN c FOR SELECT email FROM customers;')],
    ['FOR over a query', doBlock('r record;', 'FOR r IN SELECT email FROM customers LOOP NULL; END LOOP;')],
    [
      'FOREACH array',
      doBlock('v text;', 'FOREACH v IN ARRAY (SELECT array_agg(email) FROM customers) LOOP NULL; END LOOP;'),
    ],
    ['RAISE argument', doBlock('', "RAISE NOTICE '%', (SELECT email FROM customers LIMIT 1);")],
    ['RAISE USING option', doBlock('', "RAISE NOTICE 'x' USING DETAIL = (SELECT email FROM customers LIMIT 1);")],
    ['PERFORM', doBlock('', 'PERFORM email FROM customers;')],
    ['IF condition', doBlock('', "IF EXISTS (SELECT 1 FROM customers WHERE email LIKE 'a%') THEN NULL; END IF;")],
    ['CASE', doBlock('', "CASE (SELECT email FROM customers LIMIT 1) WHEN 'x' THEN NULL; ELSE NULL; END CASE;")],
    ['EXIT WHEN', doBlock('', "LOOP EXIT WHEN (SELECT email FROM customers LIMIT 1) = 'x'; END LOOP;")],
    ['ASSERT', doBlock('', "ASSERT (SELECT email FROM customers LIMIT 1) <> 'x';")],
    ['SELECT INTO', doBlock('v text;', 'SELECT email INTO v FROM customers LIMIT 1;')],
  ])('%s', (_name, sql) => {
    const decision = decide(policy, sql);
    expect(decision).toMatchObject({ action: 'block', rule: 'masking', column: EMAIL });
  });

  it('RETURN QUERY and RETURN NEXT in a function body', () => {
    const fn = (body: string) => `CREATE FUNCTION f() RETURNS SETOF text LANGUAGE plpgsql AS $$ BEGIN ${body} END $$`;
    expect(decide(policy, fn('RETURN QUERY SELECT email FROM customers;'))).toMatchObject({
      action: 'block',
      column: EMAIL,
    });
    expect(decide(policy, fn('RETURN NEXT (SELECT email FROM customers LIMIT 1);'))).toMatchObject({
      action: 'block',
      column: EMAIL,
    });
  });

  it('dynamic SQL (OPEN ... FOR EXECUTE, RETURN QUERY EXECUTE) is opaque', () => {
    for (const body of ["OPEN c FOR EXECUTE 'SELECT 1';", "FOR r IN EXECUTE 'SELECT 1' LOOP NULL; END LOOP;"]) {
      expect(decide(policy, doBlock('c refcursor; r record;', body))).toMatchObject({
        action: 'block',
        message: expect.stringContaining('dynamic SQL (EXECUTE)'),
      });
    }
  });

  it('bodies that only use other tables and variables are allowed', () => {
    for (const sql of [
      doBlock('arr int[]; v int := 1; r record;', "arr[v] := 2; v = v + 1; IF v = 2 THEN RAISE NOTICE '%', v; END IF;"),
      doBlock('n int;', 'SELECT count(*) INTO n FROM orders; GET DIAGNOSTICS n = ROW_COUNT;'),
      doBlock('r record;', "FOR r IN SELECT id FROM customers LOOP RAISE NOTICE '%', r.id; END LOOP;"),
    ]) {
      expect(decide(policy, sql)).toMatchObject({ action: 'allow' });
    }
  });
});

describe('plpgsqlStatements: reading an assignment', () => {
  it('analyzes the target (with its subscripts) and the value', () => {
    expect(plpgsqlStatements('arr[(SELECT 1)] := 2', 3)).toEqual(['SELECT arr[(SELECT 1)] ', 'SELECT  2']);
  });

  it('keeps every split whose two sides parse, so the real one is among them', () => {
    const pieces = plpgsqlStatements("arr[(SELECT count(*) FROM t WHERE a = 'x')] := b = c", 3) ?? [];
    expect(pieces).toContain("SELECT arr[(SELECT count(*) FROM t WHERE a = 'x')] ");
    expect(pieces).toContain('SELECT  b = c');
  });

  it('is unreadable (undefined) when no split parses', () => {
    expect(plpgsqlStatements('x := (', 3)).toBeUndefined();
  });

  it('expressions and whole statements', () => {
    expect(plpgsqlStatements('a + 1', 2)).toEqual(['SELECT a + 1']);
    expect(plpgsqlStatements('DELETE FROM t', 0)).toEqual(['DELETE FROM t']);
  });
});
