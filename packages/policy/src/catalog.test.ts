import { describe, expect, it } from 'vitest';
import { compilePolicy, decide, type CatalogFacts } from './index.js';

const empty: CatalogFacts = { operators: [], casts: [], aggregates: [], types: [] };
const facts = (partial: Partial<CatalogFacts>): CatalogFacts => ({ ...empty, ...partial });

const denyEvil = () =>
  compilePolicy(
    { guardrails: [{ type: 'deny_functions', name: 'no-evil', functions: ['evil*', 'pg_read_file'] }] },
    'v1',
  );

describe('withCatalog: function rules follow indirect references', () => {
  it('an operator implemented by a refused function', () => {
    const base = denyEvil();
    const policy = base.withCatalog(
      facts({ operators: [{ schema: 'public', name: '###', function: 'public.evil_op' }] }),
    );
    expect(decide(base, 'SELECT 1 ### 2').action).toBe('allow'); // without facts nothing changes
    expect(decide(policy, 'SELECT 1 ### 2')).toEqual({
      action: 'block',
      rule: 'no-evil',
      message: 'operator public.### runs public.evil_op(), which is not allowed on this connection',
      detail:
        'operator public.### is implemented by public.evil_op, which matches "evil*" in rule "no-evil" (target catalog)',
      statementIndex: 0,
    });
    expect(decide(policy, 'SELECT a OPERATOR(public.###) b FROM t').action).toBe('block');
    expect(decide(policy, 'SELECT * FROM t ORDER BY a USING ###').action).toBe('block');
    expect(decide(policy, 'SELECT 1 WHERE 1 ### ANY (SELECT 2)').action).toBe('block');
    expect(decide(policy, 'SELECT a OPERATOR(other.###) b FROM t').action).toBe('allow');
    expect(decide(policy, 'SELECT 1 + 2').action).toBe('allow');
  });

  it('a cast to a type that some cast to it runs a refused function', () => {
    const policy = denyEvil().withCatalog(
      facts({
        casts: [{ source: 'pg_catalog.text', target: 'public.secret', function: 'public.evil_cast', context: 'e' }],
      }),
    );
    for (const sql of [
      "SELECT 'x'::secret",
      "SELECT CAST('x' AS public.secret)",
      "SELECT secret 'x'",
      "SELECT 'x'::secret[]",
    ]) {
      expect(decide(policy, sql), sql).toMatchObject({
        action: 'block',
        rule: 'no-evil',
        message:
          'cast from pg_catalog.text to public.secret runs public.evil_cast(), which is not allowed on this connection',
      });
    }
    expect(decide(policy, "SELECT 'x'::other.secret").action).toBe('allow');
    expect(decide(policy, "SELECT 'x'::text").action).toBe('allow');
  });

  it('an aggregate whose support functions are refused', () => {
    const policy = denyEvil().withCatalog(
      facts({ aggregates: [{ schema: 'public', name: 'leak', functions: ['public.ok_final', 'public.evil_sfunc'] }] }),
    );
    expect(decide(policy, 'SELECT leak(a) FROM t')).toMatchObject({
      action: 'block',
      detail:
        'aggregate public.leak is implemented by public.evil_sfunc, which matches "evil*" in rule "no-evil" (target catalog)',
    });
    expect(decide(policy, 'SELECT count(a) FROM t').action).toBe('allow');
  });

  it('an implicit or assignment cast over a refused function refuses every statement, saying why', () => {
    for (const context of ['i', 'a'] as const) {
      const policy = denyEvil().withCatalog(
        facts({ casts: [{ source: 'pg_catalog.text', target: 'pg_catalog.int4', function: 'public.evil', context }] }),
      );
      const d = decide(policy, 'SELECT 1');
      expect(d).toMatchObject({ action: 'block', rule: 'no-evil' });
      expect(d.action === 'block' && d.message).toBe(
        `the target database has an ${context === 'i' ? 'implicit' : 'assignment'} cast from pg_catalog.text to pg_catalog.int4 that runs public.evil(), refused by rule "no-evil"; Postgres runs implicit and assignment casts and type input/output functions without the SQL naming them, where Warden's parser cannot see them, so every statement is refused on this connection until that is removed`,
      );
      expect(decide(policy, 'not sql at all').action).toBe('block');
      expect(decide(policy, '').action).toBe('allow');
    }
  });

  it("a type's I/O function that is refused refuses every statement", () => {
    const policy = denyEvil().withCatalog(
      facts({ types: [{ schema: 'public', name: 'blob', functions: ['public.blob_in', 'pg_catalog.pg_read_file'] }] }),
    );
    expect(decide(policy, 'SELECT 1')).toMatchObject({
      action: 'block',
      rule: 'no-evil',
      detail:
        'type public.blob (an input/output function) is implemented by pg_catalog.pg_read_file, which matches "pg_read_file" in rule "no-evil" (target catalog)',
    });
  });

  it('the built-in sql-text check follows them too, on any guarded policy', () => {
    const policy = compilePolicy(
      { guardrails: [{ type: 'deny_tables', name: 't', tables: ['vault.*'] }] },
      1,
    ).withCatalog(facts({ operators: [{ schema: 'public', name: '@@@', function: 'pg_catalog.query_to_xml' }] }));
    expect(decide(policy, "SELECT 'select 1' @@@ true")).toMatchObject({
      action: 'block',
      rule: 'sql-text',
      message:
        'operator public.@@@ runs pg_catalog.query_to_xml(), which runs SQL given as text or reads a table named in a string; it is not allowed on this connection',
    });
  });
});

describe('withCatalog: derived policies and caches', () => {
  const f1 = facts({
    operators: [
      { schema: 'public', name: '###', function: 'public.evil_op' },
      { schema: 'public', name: '@@', function: 'public.fine' },
    ],
  });
  const f1Reordered = facts({ operators: [...f1.operators].reverse() });

  it('is shared per facts (whatever their order), with its own cache and a version naming the facts', () => {
    const base = denyEvil();
    const a = base.withCatalog(f1);
    expect(base.withCatalog(f1Reordered)).toBe(a);
    expect(a.withCatalog(f1)).toBe(a); // from a derived policy: the base's variant
    expect(a.version).toMatch(/^v1\+catalog:[0-9a-f]{16}$/);
    expect(a).not.toBe(base);
    decide(a, 'SELECT 42');
    expect(base.cacheStats().size).toBe(0);
    expect(a.cacheStats().size).toBe(1);
    const other = base.withCatalog(facts({ operators: [{ schema: 'public', name: '###', function: 'public.fine' }] }));
    expect(other).not.toBe(a);
    expect(other.version).not.toBe(a.version);
  });

  it('facts that name nothing give the policy itself', () => {
    const base = denyEvil();
    expect(base.withCatalog(empty)).toBe(base);
  });

  it('keeps the options it was compiled with (reviews: hold)', () => {
    const held = compilePolicy(
      { reviews: [{ type: 'require_review', name: 'r', match: { kinds: ['delete'] }, approverGroups: ['dba'] }] },
      1,
      { reviews: 'hold' },
    ).withCatalog(f1);
    expect(decide(held, 'DELETE FROM t WHERE id = 1').action).toBe('review');
  });
});
