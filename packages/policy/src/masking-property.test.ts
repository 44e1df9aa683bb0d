import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy, decideUncached, isPlainOutput, type ColumnSource, type Decision } from './index.js';

/**
 * A leak-hunting property test of the masking proof. Statements are composed from a grammar of
 * relations (subqueries, alias lists, joins renamed by alias lists, LATERAL, CTEs in WITH and
 * WITH RECURSIVE with forward references, UNION, filters) around the masked column
 * `public.customers.ssn`, then used by a sink (client, functions, CREATE TABLE AS, INSERT, ORDER
 * BY, DISTINCT, scalar subqueries, PL/pgSQL, PREPARE/EXECUTE, attribute notation).
 *
 * The generator keeps its own model of where ssn's value goes, independent of the analyzer:
 * each column is `clean`, `origin` (ssn's value, reaching the client as a column Postgres reports
 * the origin of, so the agent masks it) or `raw` (ssn's value without an origin). Asserted:
 * - a statement the model says leaks (a `raw` value reaching the client, any ssn value used in a
 *   function, predicate, ordering, stored or sent elsewhere) is blocked;
 * - whenever policy allows, every use of ssn in the analysis is a plain select-list column, and if
 *   one goes to the client (or the model says ssn reaches the client), ssn is in maskedColumns.
 */

const policy = compilePolicy({ masking: { columns: [{ column: 'public.customers.ssn', strategy: 'redact' }] } }, 1);

type Taint = 'clean' | 'origin' | 'raw';

type Rel =
  | { t: 'base'; which: number }
  | { t: 'sub'; inner: Rel; rename: number; explicit: boolean }
  | { t: 'project'; inner: Rel; picks: Array<{ idx: number; wrap: boolean }> }
  | { t: 'join'; left: Rel; right: Rel; viaSubquery: boolean; explicit: boolean }
  | { t: 'lateral'; inner: Rel; idx: number }
  | { t: 'cte'; inner: Rel; aliasList: boolean; explicit: boolean }
  | { t: 'union'; inner: Rel }
  | { t: 'filter'; inner: Rel; idx: number };

const SINKS = [
  'client-star',
  'client-col',
  'client-func',
  'ctas',
  'insert',
  'union',
  'order',
  'distinct',
  'scalar',
  'plpgsql-subscript',
  'plpgsql-assign',
  'plpgsql-for',
  'prepare-ctas',
  'prepare-execute',
  'attribute',
] as const;
type Sink = (typeof SINKS)[number];

interface Case {
  rel: Rel;
  sink: Sink;
  pick: number;
  recursive: boolean;
  /** Reverses the WITH list under RECURSIVE, so CTEs reference later ones. */
  forward: boolean;
}

const relArb = fc.letrec<{ rel: Rel }>((tie) => ({
  rel: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ t: fc.constant('base' as const), which: fc.nat(3) }),
    fc.record({ t: fc.constant('sub' as const), inner: tie('rel'), rename: fc.nat(3), explicit: fc.boolean() }),
    fc.record({
      t: fc.constant('project' as const),
      inner: tie('rel'),
      picks: fc.array(fc.record({ idx: fc.nat(7), wrap: fc.boolean() }), { minLength: 1, maxLength: 3 }),
    }),
    fc.record({
      t: fc.constant('join' as const),
      left: tie('rel'),
      right: tie('rel'),
      viaSubquery: fc.boolean(),
      explicit: fc.boolean(),
    }),
    fc.record({ t: fc.constant('lateral' as const), inner: tie('rel'), idx: fc.nat(7) }),
    fc.record({ t: fc.constant('cte' as const), inner: tie('rel'), aliasList: fc.boolean(), explicit: fc.boolean() }),
    fc.record({ t: fc.constant('union' as const), inner: tie('rel') }),
    fc.record({ t: fc.constant('filter' as const), inner: tie('rel'), idx: fc.nat(7) }),
  ),
})).rel;

const caseArb: fc.Arbitrary<Case> = fc.record({
  rel: relArb,
  sink: fc.constantFrom(...SINKS),
  pick: fc.nat(7),
  recursive: fc.boolean(),
  forward: fc.boolean(),
});

interface Column {
  name: string;
  taint: Taint;
}

/** A rendered relation: a FROM item (without alias) and the model of its columns. */
interface Rendered {
  sql: string;
  cols: Column[];
  /** ssn's value was compared or filtered on somewhere inside (an oracle). */
  leak: boolean;
}

const BASES: Rendered[] = [
  { sql: '(SELECT id, ssn FROM customers)', cols: col(['id', 'clean'], ['ssn', 'origin']), leak: false },
  {
    sql: '(SELECT c.ssn AS s, c.id FROM public.customers c)',
    cols: col(['s', 'origin'], ['id', 'clean']),
    leak: false,
  },
  { sql: "(SELECT id, 'x' AS ssn FROM orders)", cols: col(['id', 'clean'], ['ssn', 'clean']), leak: false },
  { sql: '(SELECT name FROM customers)', cols: col(['name', 'clean']), leak: false },
];

function col(...pairs: Array<[string, Taint]>): Column[] {
  return pairs.map(([name, taint]) => ({ name, taint }));
}

/** `*`, or every column named (which makes the analyzer map each name exactly). */
function selectList(alias: string, cols: Column[], explicit: boolean): string {
  return explicit ? cols.map((c) => `${alias}.${c.name}`).join(', ') : '*';
}

const tainted = (c: Column | undefined) => c !== undefined && c.taint !== 'clean';

/** Renders a case's relations to SQL, with fresh names, collecting CTE definitions in dependency order. */
class Renderer {
  private counter = 0;
  readonly ctes: Array<{ name: string; sql: string }> = [];
  private hasSelfReference = false;

  constructor(private readonly recursive: boolean) {}

  fresh(prefix: string): string {
    return `${prefix}${++this.counter}`;
  }

  withClause(forward: boolean): string {
    if (this.ctes.length === 0) return '';
    const recursive = this.recursive || this.hasSelfReference;
    const list = recursive && forward ? [...this.ctes].reverse() : this.ctes;
    return `WITH ${recursive ? 'RECURSIVE ' : ''}${list.map((c) => `${c.name} AS (${c.sql})`).join(', ')} `;
  }

  rel(node: Rel): Rendered {
    switch (node.t) {
      case 'base':
        return BASES[node.which % BASES.length] as Rendered;
      case 'sub': {
        const inner = this.rel(node.inner);
        const alias = this.fresh('s');
        const k = Math.min(node.rename, inner.cols.length);
        const cols = inner.cols.map((c, i) => (i < k ? { name: this.fresh('a'), taint: c.taint } : c));
        const list =
          k > 0
            ? `(${cols
                .slice(0, k)
                .map((c) => c.name)
                .join(', ')})`
            : '';
        return {
          sql: `(SELECT ${selectList(alias, cols, node.explicit)} FROM ${inner.sql} AS ${alias}${list})`,
          cols,
          leak: inner.leak,
        };
      }
      case 'project': {
        const inner = this.rel(node.inner);
        const alias = this.fresh('p');
        const cols: Column[] = [];
        const items = node.picks.map(({ idx, wrap }) => {
          const source = inner.cols[idx % inner.cols.length] as Column;
          const name = this.fresh('c');
          cols.push({ name, taint: source.taint === 'clean' ? 'clean' : wrap ? 'raw' : source.taint });
          const ref = `${alias}.${source.name}`;
          return `${wrap ? `upper(${ref}::text)` : ref} AS ${name}`;
        });
        return { sql: `(SELECT ${items.join(', ')} FROM ${inner.sql} AS ${alias})`, cols, leak: inner.leak };
      }
      case 'join': {
        const left = this.rel(node.left);
        const right = this.rel(node.right);
        const [a, b, j] = [this.fresh('l'), this.fresh('r'), this.fresh('j')];
        // Every column is renamed (fresh names) by the alias list, so no name is ambiguous.
        const all = [...left.cols, ...right.cols];
        const names = all.map(() => this.fresh('j'));
        const cols = all.map((c, i) => ({ name: names[i] as string, taint: c.taint }));
        const join = `${left.sql} AS ${a} CROSS JOIN ${right.sql} AS ${b}`;
        const sql = node.viaSubquery
          ? `(SELECT * FROM ${join}) AS ${j}(${names.join(', ')})`
          : `(${join}) AS ${j}(${names.join(', ')})`;
        return {
          sql: `(SELECT ${selectList(j, cols, node.explicit)} FROM ${sql})`,
          cols,
          leak: left.leak || right.leak,
        };
      }
      case 'lateral': {
        const inner = this.rel(node.inner);
        const [alias, l, name] = [this.fresh('o'), this.fresh('x'), this.fresh('v')];
        const source = inner.cols[node.idx % inner.cols.length] as Column;
        return {
          sql: `(SELECT ${l}.* FROM ${inner.sql} AS ${alias}, LATERAL (SELECT ${alias}.${source.name} AS ${name}) AS ${l})`,
          cols: [{ name, taint: source.taint }],
          leak: inner.leak,
        };
      }
      case 'cte': {
        const inner = this.rel(node.inner);
        const name = this.fresh('w');
        const cols = node.aliasList ? inner.cols.map((c) => ({ name: this.fresh('k'), taint: c.taint })) : inner.cols;
        const head = node.aliasList ? `${name}(${cols.map((c) => c.name).join(', ')})` : name;
        const q = this.fresh('q');
        this.ctes.push({
          name: head,
          sql: `SELECT ${selectList(q, inner.cols, node.explicit)} FROM ${inner.sql} AS ${q}`,
        });
        return { sql: name, cols, leak: inner.leak };
      }
      case 'union': {
        const inner = this.rel(node.inner);
        // A UNION's result has no column origin: ssn's value in it is raw.
        const cols = inner.cols.map((c) => ({ name: c.name, taint: c.taint === 'clean' ? ('clean' as Taint) : 'raw' }));
        const first = `SELECT * FROM ${inner.sql} AS ${this.fresh('u')}`;
        if (this.recursive) {
          const name = this.fresh('rec');
          this.hasSelfReference = true;
          this.ctes.push({
            name: `${name}(${cols.map((c) => c.name).join(', ')})`,
            sql: `${first} UNION ALL SELECT * FROM ${name} WHERE false`,
          });
          return { sql: name, cols, leak: inner.leak };
        }
        return {
          sql: `(${first} UNION ALL ${first.replace(/ AS u\d+$/, ` AS ${this.fresh('u')}`)})`,
          cols,
          leak: inner.leak,
        };
      }
      case 'filter': {
        const inner = this.rel(node.inner);
        const alias = this.fresh('f');
        const c = inner.cols[node.idx % inner.cols.length] as Column;
        return {
          sql: `(SELECT * FROM ${inner.sql} AS ${alias} WHERE ${alias}.${c.name} IS NOT NULL)`,
          cols: inner.cols,
          leak: inner.leak || tainted(c),
        };
      }
    }
  }
}

interface Statement {
  sql: string;
  /** The model: ssn's value leaves unmasked if this runs. */
  leaks: boolean;
  /** The model: ssn's value reaches the client as a column with its origin. */
  returnsSsn: boolean;
}

function render(c: Case): Statement {
  const r = new Renderer(c.recursive);
  const rel = r.rel(c.rel);
  const w = r.withClause(c.forward);
  const alias = r.fresh('t');
  const col = rel.cols[c.pick % rel.cols.length] as Column;
  const ref = `${alias}.${col.name}`;
  const from = `FROM ${rel.sql} AS ${alias}`;
  const anyTaint = rel.cols.some(tainted);
  const base = { leaks: rel.leak, returnsSsn: false };
  const doBlock = (declare: string, body: string) => `DO $$ DECLARE ${declare} BEGIN ${body} END $$`;
  switch (c.sink) {
    case 'client-star':
      return {
        sql: `${w}SELECT * ${from}`,
        leaks: rel.leak || rel.cols.some((x) => x.taint === 'raw'),
        returnsSsn: rel.cols.some((x) => x.taint === 'origin'),
      };
    case 'client-col':
      return {
        sql: `${w}SELECT ${ref} ${from}`,
        leaks: rel.leak || col.taint === 'raw',
        returnsSsn: col.taint === 'origin',
      };
    case 'client-func':
      return { ...base, sql: `${w}SELECT md5(${ref}::text) ${from}`, leaks: rel.leak || tainted(col) };
    case 'ctas':
      return { ...base, sql: `CREATE TABLE new_t AS ${w}SELECT ${ref} ${from}`, leaks: rel.leak || tainted(col) };
    case 'insert':
      return { ...base, sql: `${w}INSERT INTO out_t SELECT ${ref} ${from}`, leaks: rel.leak || tainted(col) };
    case 'union':
      return { ...base, sql: `${w}SELECT ${ref} ${from} UNION SELECT ${ref} ${from}`, leaks: rel.leak || tainted(col) };
    case 'order':
      return { ...base, sql: `${w}SELECT 1 ${from} ORDER BY ${ref}`, leaks: rel.leak || tainted(col) };
    case 'distinct':
      return { ...base, sql: `${w}SELECT DISTINCT ${ref} ${from}`, leaks: rel.leak || tainted(col) };
    case 'scalar':
      return { ...base, sql: `SELECT (${w}SELECT ${ref} ${from} LIMIT 1)`, leaks: rel.leak || tainted(col) };
    case 'plpgsql-subscript':
      return {
        ...base,
        sql: doBlock('arr int[];', `arr[(${w}SELECT length(${ref}::text) ${from} LIMIT 1)] := 1;`),
        leaks: rel.leak || tainted(col),
      };
    case 'plpgsql-assign':
      return {
        ...base,
        sql: doBlock('v text;', `v := (${w}SELECT ${ref} ${from} LIMIT 1); RAISE NOTICE '%', v;`),
        leaks: rel.leak || tainted(col),
      };
    case 'plpgsql-for':
      return {
        ...base,
        sql: doBlock(
          'rec record;',
          `FOR rec IN ${w}SELECT ${ref} AS v ${from} LOOP RAISE NOTICE '%', rec.v; END LOOP;`,
        ),
        leaks: rel.leak || tainted(col),
      };
    case 'prepare-ctas':
      // What EXECUTE returns is not in the text; stored, it must be refused whatever p selects.
      return { ...base, sql: `PREPARE p AS ${w}SELECT ${ref} ${from}; CREATE TABLE new_t AS EXECUTE p`, leaks: true };
    case 'prepare-execute':
      return {
        sql: `PREPARE p AS ${w}SELECT ${ref} ${from}; EXECUTE p`,
        leaks: rel.leak || col.taint === 'raw',
        returnsSsn: col.taint === 'origin',
      };
    case 'attribute':
      return { ...base, sql: `${w}SELECT ${alias}.row_to_json ${from}`, leaks: rel.leak || anyTaint };
  }
}

function isSsn(s: ColumnSource): boolean {
  if (s.table === '*') return true;
  if (s.table.toLowerCase() !== 'customers') return false;
  if (s.schema !== undefined && s.schema.toLowerCase() !== 'public') return false;
  return s.column === '*' || s.column.toLowerCase() === 'ssn';
}

/** Why the decision breaks the property, or undefined when it holds. */
function violation(st: Statement, d: Decision): string | undefined {
  if (d.action !== 'allow') return undefined;
  if (st.leaks) return 'allowed a statement that leaks ssn';
  const returned = d.maskedColumns.some((m) => m.column === 'public.customers.ssn');
  if (st.returnsSsn && !returned) return 'ssn reaches the client but is not in maskedColumns';
  for (const stmt of d.statements) {
    for (const use of stmt.columns) {
      if (!use.sources.some(isSsn)) continue;
      if (!isPlainOutput(use)) return `use "${use.ref}" (${use.clause}) of ssn is not a plain output`;
      if (use.output === 'client' && !returned) return `use "${use.ref}" returns ssn, not in maskedColumns`;
    }
  }
  return undefined;
}

describe('masking proof: property over composed statements', () => {
  it('never allows a statement whose model leaks ssn, and reports every ssn it returns', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const st = render(c);
        const problem = violation(st, decideUncached(policy, st.sql));
        if (problem) throw new Error(`${problem}: ${st.sql}`);
      }),
      { numRuns: Number(process.env.MASKING_PROPERTY_RUNS ?? 400), interruptAfterTimeLimit: 8_000 },
    );
  });

  it('the generator reaches both outcomes (allowed plain reads and blocked leaks)', () => {
    const samples = fc.sample(caseArb, { numRuns: 300, seed: 22 }).map(render);
    const decisions = samples.map((s) => decideUncached(policy, s.sql).action);
    expect(decisions).toContain('allow');
    expect(decisions).toContain('block');
    expect(samples.some((s) => s.returnsSsn && decideUncached(policy, s.sql).action === 'allow')).toBe(true);
  });
});
