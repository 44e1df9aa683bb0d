import { describe, expect, it } from 'vitest';
import { compilePolicy, decide, type CatalogFacts } from './index.js';

// Column masking with facts from the target's catalog: views over masked columns and attribute
// notation on masked tables, which the SQL text alone cannot show.
const empty: CatalogFacts = { operators: [], casts: [], aggregates: [], types: [] };

const facts: CatalogFacts = {
  ...empty,
  maskedDependents: [
    { schema: 'public', name: 'customers_view', kind: 'view', column: 'public.customers.ssn' },
    { schema: 'public', name: 'customers_view2', kind: 'view', column: 'public.customers.ssn' },
    { schema: 'reports', name: 'ssn_copy', kind: 'materialized_view', column: 'public.customers.ssn' },
  ],
  maskedTableColumns: [
    { schema: 'public', table: 'customers', columns: ['id', 'email', 'ssn', 'ctid', 'xmin', 'tableoid'] },
  ],
};

const maskSsn = () =>
  compilePolicy({ masking: { columns: [{ column: 'public.customers.ssn', strategy: 'redact' }] } }, 'v1');

describe('views and materialized views over masked columns', () => {
  const policy = maskSsn().withCatalog(facts);

  it('a statement naming a dependent view is refused, naming the view, the column and the way out', () => {
    const decision = decide(policy, 'SELECT ssn_copy FROM customers_view');
    expect(decision).toEqual({
      action: 'block',
      rule: 'masking',
      message:
        'view public.customers_view returns values derived from masked column public.customers.ssn, and its rows ' +
        'carry the view as their origin, so Warden cannot mask them; query public.customers directly (the column ' +
        'is masked there), or drop the view or remove the masked column from it',
      detail: 'view public.customers_view depends on masked column public.customers.ssn (target catalog)',
      statementIndex: 0,
      column: 'public.customers.ssn',
    });
  });

  it('wherever the view is named: subqueries, CTEs, writes, COPY, DDL, schema-less or qualified', () => {
    for (const sql of [
      'SELECT * FROM public.customers_view',
      'SELECT * FROM PUBLIC.Customers_View',
      'SELECT id FROM customers_view2',
      'SELECT 1 WHERE EXISTS (SELECT 1 FROM customers_view)',
      'WITH x AS (SELECT * FROM customers_view) SELECT * FROM x',
      'SELECT * FROM customers c JOIN customers_view v ON v.id = c.id',
      'INSERT INTO other SELECT * FROM customers_view',
      'CREATE TABLE copy AS SELECT * FROM customers_view',
      'COPY customers_view TO STDOUT',
      'COPY (SELECT * FROM customers_view) TO STDOUT',
      'CREATE VIEW again AS SELECT * FROM customers_view',
      'ALTER VIEW customers_view RENAME TO hidden',
      'SELECT * FROM ssn_copy',
      'REFRESH MATERIALIZED VIEW reports.ssn_copy',
      'SELECT 1; SELECT * FROM customers_view',
    ]) {
      expect(decide(policy, sql), sql).toMatchObject({
        action: 'block',
        rule: 'masking',
        column: 'public.customers.ssn',
      });
    }
    expect(decide(policy, 'SELECT * FROM ssn_copy')).toMatchObject({
      message: expect.stringMatching(/^materialized view reports\.ssn_copy holds a copy of values derived from/),
    });
  });

  it('a view of that name in another schema, other views, the table itself and DROP are not affected', () => {
    expect(decide(policy, 'SELECT * FROM other.customers_view').action).toBe('allow');
    expect(decide(policy, 'SELECT * FROM public.ssn_copy').action).toBe('allow');
    expect(decide(policy, 'SELECT id, email FROM customers_public').action).toBe('allow');
    expect(decide(policy, 'SELECT ssn FROM customers')).toMatchObject({
      action: 'allow',
      maskedColumns: [{ column: 'public.customers.ssn' }],
    });
    expect(decide(policy, 'DROP VIEW customers_view').action).toBe('allow');
  });

  it('without the facts (an agent that does not read them), nothing changes', () => {
    expect(decide(maskSsn(), 'SELECT * FROM customers_view').action).toBe('allow');
    expect(decide(maskSsn().withCatalog(empty), 'SELECT * FROM customers_view').action).toBe('allow');
  });
});

describe('attribute notation on a table with masked columns', () => {
  const policy = maskSsn().withCatalog(facts);

  it('q.name where name is not a column of the masked table is refused: it calls name(q) on the whole row', () => {
    expect(decide(policy, 'SELECT c.my_func FROM customers c')).toEqual({
      action: 'block',
      rule: 'masking',
      message:
        '"c.my_func" is not a column of public.customers, which has masked columns: Postgres reads it as ' +
        'my_func(c), a function called on the whole row, whose result is not masked; select the columns you ' +
        'need, or call the function on them',
      detail:
        '"c.my_func" names no column of masked table public.customers (target catalog): attribute notation on the whole row',
      statementIndex: 0,
      column: 'public.customers.ssn',
    });
    for (const sql of [
      'SELECT customers.my_func FROM customers',
      'SELECT public.customers.my_func FROM public.customers',
      'SELECT id FROM customers c WHERE c.my_func IS NOT NULL',
      'SELECT s.my_func FROM (SELECT * FROM customers) s',
      'SELECT (SELECT c.my_func) FROM customers c',
      // A column name is matched exactly: "SSN" is not ssn.
      'SELECT c."SSN" FROM customers c',
    ]) {
      expect(decide(policy, sql), sql).toMatchObject({ action: 'block', rule: 'masking' });
    }
  });

  it('real columns, system columns and other tables are not affected', () => {
    for (const sql of [
      'SELECT c.id, c.email FROM customers c',
      'SELECT c.ctid, c.xmin FROM customers c',
      'SELECT o.my_func FROM orders o',
      'SELECT c.id FROM other.customers c',
      'SELECT my_func FROM customers', // unqualified: a column or an error, never a function call
    ]) {
      expect(decide(policy, sql).action, sql).toBe('allow');
    }
    expect(decide(policy, 'SELECT c.ssn FROM customers c')).toMatchObject({
      action: 'allow',
      maskedColumns: [{ column: 'public.customers.ssn' }],
    });
  });

  it('a masked table the agent did not find is judged as having no such column', () => {
    const none = maskSsn().withCatalog({ ...empty, maskedTableColumns: [] });
    expect(decide(none, 'SELECT c.id FROM customers c').action).toBe('block');
    expect(decide(none, 'SELECT o.id FROM orders o').action).toBe('allow');
  });

  it('tables the facts list (partitions, children) count as masked even if the policy does not name them', () => {
    const children = maskSsn().withCatalog({
      ...empty,
      maskedTableColumns: [{ schema: 'public', table: 'customers_2024', columns: ['id', 'ssn'] }],
    });
    expect(decide(children, 'SELECT c.my_func FROM customers_2024 c').action).toBe('block');
    expect(decide(children, 'SELECT c.id FROM customers_2024 c').action).toBe('allow');
  });
});

describe('the facts and the derived policy', () => {
  it('masking facts make a variant of their own, whose hash ignores order and tells absent from empty', () => {
    const base = maskSsn();
    const a = base.withCatalog(facts);
    const reordered = base.withCatalog({
      ...facts,
      maskedDependents: [...(facts.maskedDependents ?? [])].reverse(),
      maskedTableColumns: [
        { schema: 'public', table: 'customers', columns: ['tableoid', 'xmin', 'ctid', 'ssn', 'email', 'id'] },
      ],
    });
    expect(a).not.toBe(base);
    expect(reordered).toBe(a);
    const emptyLists = base.withCatalog({ ...empty, maskedDependents: [], maskedTableColumns: [] });
    expect(emptyLists).not.toBe(base);
    expect(emptyLists).not.toBe(a);
    expect(base.withCatalog(empty)).toBe(base);
    // Each variant has its own decision cache: the base still allows what the variant refuses.
    expect(decide(a, 'SELECT * FROM customers_view').action).toBe('block');
    expect(decide(base, 'SELECT * FROM customers_view').action).toBe('allow');
  });
});

describe('partitions and inheritance children of a masked table', () => {
  const withChild: CatalogFacts = {
    ...empty,
    maskedTableColumns: [
      { schema: 'public', table: 'customers', columns: ['id', 'email', 'ssn'] },
      { schema: 'public', table: 'customers_eu', columns: ['id', 'email', 'ssn', 'region'] },
    ],
  };
  const policy = maskSsn().withCatalog(withChild);

  it('a masked column used through a child table is refused like the table’s own', () => {
    const decision = decide(policy, 'SELECT upper(ssn) FROM customers_eu');
    expect(decision).toMatchObject({ action: 'block', rule: 'masking', column: 'public.customers.ssn' });
    expect(decide(policy, "SELECT id FROM customers_eu WHERE ssn LIKE '1%'")).toMatchObject({ action: 'block' });
  });

  it('selected as a plain column it is allowed (the agent masks it by origin), and other columns stay free', () => {
    expect(decide(policy, 'SELECT ssn, upper(region) FROM customers_eu')).toMatchObject({ action: 'allow' });
  });

  it('without the facts the child is just another table (the gap the facts close)', () => {
    expect(decide(maskSsn(), 'SELECT upper(ssn) FROM customers_eu')).toMatchObject({ action: 'allow' });
  });
});
