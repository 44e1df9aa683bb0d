import { REFUSED, type Attack, type Transport } from './attack-corpus.js';

// Classes 5 (a sound masking proof), 6 (values in errors and side channels) and 8 (the in-band
// masking counter) of issue 22; see attack-corpus.ts for the shape of an attack. Masked columns:
// customers.secret (redact) and customers.token (last4); detectors: email, credit_card.

const cycle = <T>(items: readonly T[], i: number): T => items[i % items.length]!;
const TRANSPORTS: Transport[] = ['simple', 'extended', 'binary', 'pipeline', 'psql'];

/** Class 5: what the analyzer cannot prove masked, it refuses. */
export function maskingProofAttacks(): Attack[] {
  const single: [string, string][] = [
    [
      'WITH RECURSIVE forward reference',
      `WITH RECURSIVE a(v) AS (SELECT v FROM b), b(v) AS (SELECT secret FROM customers) SELECT upper(v) FROM a`,
    ],
    [
      'WITH RECURSIVE forward reference, plain output',
      `WITH RECURSIVE a(v) AS (SELECT v || '' FROM b), b(v) AS (SELECT token FROM customers) SELECT v FROM a`,
    ],
    [
      'recursive union carrying the column',
      `WITH RECURSIVE r(n, s) AS (SELECT 1, secret FROM customers UNION ALL SELECT n + 1, s FROM r WHERE n < 2) SELECT n, s FROM r`,
    ],
    ['join alias column list', `SELECT lower(x.s) FROM (customers CROSS JOIN (SELECT 1 AS one) z) AS x(i, n, e, c, s)`],
    ['table alias column list', `SELECT reverse(s) FROM customers AS c(i, n, e, cd, s)`],
    ['LATERAL expression', `SELECT l.x FROM customers c, LATERAL (SELECT c.secret || '') AS l(x)`],
    ['unnest in FROM', `SELECT u FROM customers c, unnest(ARRAY[c.secret]) AS u`],
    ['scalar subquery', `SELECT (SELECT secret FROM customers ORDER BY id LIMIT 1) AS s`],
    ['ARRAY subquery', `SELECT ARRAY(SELECT token FROM customers)`],
    ['set operation', `SELECT secret FROM customers UNION SELECT 'x'`],
    ['VALUES with a subquery', `VALUES ((SELECT secret FROM customers LIMIT 1))`],
    ['json_agg of rows', `SELECT json_agg(c) FROM customers c`],
    ['row constructor', `SELECT ROW(c.secret, 1) FROM customers c`],
    ['COLLATE', `SELECT secret COLLATE "C" FROM customers`],
    ['GROUPING SETS', `SELECT secret FROM customers GROUP BY GROUPING SETS ((secret))`],
    ['INSERT ... SELECT into an unmasked table', `INSERT INTO sink (v) SELECT secret FROM customers`],
    ['INSERT ... SELECT through a subquery', `INSERT INTO sink SELECT s FROM (SELECT token AS s FROM customers) q`],
    ['INSERT from a CTE', `WITH x AS (SELECT secret FROM customers) INSERT INTO sink SELECT * FROM x`],
    ['UPDATE moving it to an unmasked column', `UPDATE customers SET note = secret WHERE id = 1`],
    ['CREATE TABLE AS', `CREATE TABLE leak_t AS SELECT secret FROM customers`],
    ['SELECT INTO', `SELECT token INTO leak_t2 FROM customers`],
    ['CREATE MATERIALIZED VIEW', `CREATE MATERIALIZED VIEW leak_mv AS SELECT secret FROM customers`],
    ['COPY query', `COPY (SELECT secret FROM customers) TO STDOUT`],
    [
      'PL/pgSQL RAISE of a selected value',
      `DO $$ DECLARE r record; BEGIN SELECT secret INTO r FROM customers LIMIT 1; RAISE NOTICE '%', r; END $$`,
    ],
    [
      'PL/pgSQL jsonb subscript assignment target',
      `DO $$ DECLARE j jsonb := '{}'; BEGIN j[(SELECT secret FROM customers LIMIT 1)] := '1'; RAISE NOTICE '%', j; END $$`,
    ],
    [
      'PL/pgSQL array subscript',
      `DO $$ DECLARE a text[] := '{}'; BEGIN a[1] := (SELECT token FROM customers LIMIT 1); INSERT INTO sink VALUES (a[1]); END $$`,
    ],
    [
      'PL/pgSQL loop into another table',
      `DO $$ DECLARE r record; BEGIN FOR r IN SELECT secret FROM customers LOOP INSERT INTO sink VALUES (r.secret); END LOOP; END $$`,
    ],
    ['PL/pgSQL dynamic EXECUTE', `DO $$ BEGIN EXECUTE 'INSERT INTO sink SELECT sec' || 'ret FROM customers'; END $$`],
  ];
  const attacks: Attack[] = single.map(([label, sql], i) => ({
    id: `5.${label}`,
    class: 5 as const,
    title: label,
    profile: i % 3 === 2 ? ('mask' as const) : ('mask-only' as const),
    transport: cycle(TRANSPORTS, i),
    steps: [{ sql, expect: REFUSED }],
  }));
  attacks.push({
    id: '5.pg_notify of the column',
    class: 5,
    title: 'pg_notify of the masked column to a channel the session listens on',
    profile: 'mask-only',
    transport: 'simple',
    steps: [{ sql: 'LISTEN leak' }, { sql: `SELECT pg_notify('leak', secret) FROM customers`, expect: REFUSED }],
  });
  const defineThenUse: [string, string, string][] = [
    [
      'view over the table, then a function of it',
      `CREATE VIEW leak_v AS SELECT * FROM customers`,
      `SELECT upper(secret) FROM leak_v`,
    ],
    [
      'SQL function returning the rows',
      `CREATE FUNCTION leak_f() RETURNS SETOF customers LANGUAGE sql AS 'SELECT * FROM customers'`,
      `SELECT upper(secret) FROM leak_f()`,
    ],
    [
      'SQL function, BEGIN ATOMIC',
      `CREATE FUNCTION leak_g() RETURNS SETOF text LANGUAGE sql BEGIN ATOMIC SELECT token FROM customers; END`,
      `SELECT * FROM leak_g()`,
    ],
    [
      'trigger copying NEW into another table',
      `CREATE FUNCTION leak_tf() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO sink VALUES (NEW.secret); RETURN NEW; END $$`,
      `CREATE TRIGGER leak_tr BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION leak_tf()`,
    ],
    [
      'rule copying rows',
      `CREATE RULE leak_r AS ON UPDATE TO orders DO ALSO INSERT INTO sink SELECT secret FROM customers`,
      `UPDATE orders SET note = 'orig' WHERE id = 1`,
    ],
    [
      'prepared statement, then CREATE TABLE AS EXECUTE',
      `PREPARE leak_p AS SELECT * FROM customers`,
      `CREATE TABLE leak_e AS EXECUTE leak_p`,
    ],
  ];
  defineThenUse.forEach(([label, define, use], i) =>
    attacks.push({
      id: `5.defined.${label}`,
      class: 5,
      title: `${label}: the leaking step is refused`,
      profile: 'mask-only',
      transport: cycle(['simple', 'psql'] as Transport[], i),
      steps: [{ sql: define }, { sql: use }, { sql: `UPDATE customers SET name = name WHERE id = 1` }],
    }),
  );
  attacks.push({
    id: '5.masked-reads-still-work',
    class: 5,
    title: 'plain reads of the masked table run (masked)',
    profile: 'mask',
    transport: 'binary',
    steps: [
      { sql: 'SELECT * FROM customers', expect: 'ok' },
      { sql: 'SELECT c.id, c.secret FROM (SELECT * FROM customers) c', expect: 'ok' },
      { sql: 'TABLE customers', expect: 'ok' },
    ],
  });
  return attacks;
}

/** Class 6: values in errors, notices, notifications, binary results, COPY and statistics. */
export function sideChannelAttacks(): Attack[] {
  const attacks: Attack[] = [];
  const errors: [string, string][] = [
    ['check option (44000)', `UPDATE customers_active SET note = 'blocked' WHERE id = 1`],
    ['check constraint (23514)', `UPDATE customers SET note = repeat('x', 50) WHERE id = 1`],
    ['not null (23502)', `UPDATE customers SET name = NULL WHERE id = 1`],
    [
      'exclusion constraint (23P01) quoting the existing key',
      `INSERT INTO customers (id, name, secret) VALUES (99, 'Name1', 'guess')`,
    ],
    ['RAISE EXCEPTION in a trigger with NEW (P0001)', `UPDATE customers SET note = 'report' WHERE id = 1`],
    ['RAISE NOTICE in a trigger with NEW', `UPDATE customers SET note = 'notice' WHERE id = 2`],
  ];
  errors.forEach(([label, sql], i) => {
    for (const transport of [
      cycle(['simple', 'extended', 'psql', 'pipeline'] as Transport[], i),
      'raw',
    ] as Transport[]) {
      attacks.push({
        id: `6.error.${label}.${transport}`,
        class: 6,
        title: label,
        profile: 'mask',
        transport,
        steps: [{ sql }],
      });
    }
  });
  const detectorReads: [string, string][] = [
    ['composite', 'SELECT ROW(c.id, c.email) FROM customers c'],
    ['array', 'SELECT ARRAY[email, card] FROM customers'],
    ['varchar, bpchar and name', 'SELECT email::varchar, card::bpchar, email::name FROM customers'],
    ['json and jsonb', `SELECT to_json(email), jsonb_build_object('e', email, 'c', card) FROM customers`],
    ['xml', 'SELECT xmlelement(name e, email) FROM customers'],
    ['tsvector', `SELECT to_tsvector('simple', email), to_tsvector('simple', card) FROM customers`],
    ['tsquery', `SELECT plainto_tsquery('simple', email) FROM customers`],
    ['plain columns', 'SELECT email, card, secret, token FROM customers'],
  ];
  detectorReads.forEach(([label, sql]) => {
    for (const transport of ['simple', 'binary'] as Transport[]) {
      attacks.push({
        id: `6.format.${label}.${transport}`,
        class: 6,
        title: `detectors in ${label} results (${transport === 'binary' ? 'binary' : 'text'} format)`,
        profile: 'mask',
        transport,
        steps: [{ sql }],
      });
    }
  });
  const copies: [string, string, Transport][] = [
    ['COPY binary of detector columns', 'COPY (SELECT email, card FROM customers) TO STDOUT (FORMAT binary)', 'raw'],
    ['COPY table binary', 'COPY customers (id, email, card) TO STDOUT WITH (FORMAT binary)', 'raw'],
    ['COPY binary through psql', 'COPY (SELECT email FROM customers) TO STDOUT WITH BINARY', 'psql'],
    ['COPY csv', 'COPY (SELECT email, card FROM customers) TO STDOUT WITH (FORMAT csv)', 'raw'],
    ['COPY table text', 'COPY customers TO STDOUT', 'raw'],
  ];
  for (const [label, sql, transport] of copies) {
    attacks.push({ id: `6.copy.${label}`, class: 6, title: label, profile: 'mask', transport, steps: [{ sql }] });
  }
  const stats = `FROM pg_stats WHERE tablename = 'customers' AND attname IN ('email', 'card')`;
  for (const [label, sql, transport] of [
    ['anyarray, text', `SELECT histogram_bounds, most_common_vals ${stats}`, 'simple'],
    ['anyarray, binary', `SELECT histogram_bounds, most_common_vals ${stats}`, 'binary'],
    ['anyarray cast to text', `SELECT histogram_bounds::text ${stats}`, 'extended'],
  ] as const) {
    attacks.push({
      id: `6.stats.${label}`,
      class: 6,
      title: `pg_stats ${label} (detectors, default pack)`,
      profile: 'guard',
      transport,
      steps: [{ sql }],
    });
  }
  attacks.push(
    {
      id: '6.stats.masked',
      class: 6,
      title: 'pg_stats of a masked column is refused',
      profile: 'mask-only',
      transport: 'simple',
      steps: [{ sql: `SELECT histogram_bounds FROM pg_stats WHERE attname = 'secret'`, expect: REFUSED }],
    },
    {
      id: '6.notify',
      class: 6,
      title: 'NOTIFY payloads carry detector values',
      profile: 'mask',
      transport: 'simple',
      steps: [{ sql: 'LISTEN side' }, { sql: `SELECT pg_notify('side', email || ' ' || card) FROM customers` }],
    },
    {
      id: '6.raise',
      class: 6,
      title: 'RAISE NOTICE with detector values in message, DETAIL and HINT',
      profile: 'mask',
      transport: 'extended',
      steps: [
        {
          sql: `DO $$ DECLARE e text; c text; BEGIN SELECT email, card INTO e, c FROM customers WHERE id = 1; RAISE NOTICE 'e=%', e USING DETAIL = c, HINT = e; END $$`,
        },
      ],
    },
    {
      id: '6.parameter-status',
      class: 6,
      title: 'a detector value set as application_name comes back in ParameterStatus',
      profile: 'mask',
      transport: 'simple',
      steps: [{ sql: `SELECT set_config('application_name', email, false) FROM customers WHERE id = 1` }],
    },
    {
      id: '6.parameter-status.masked',
      class: 6,
      title: 'a masked value set as a reported setting is refused',
      profile: 'mask-only',
      transport: 'extended',
      steps: [
        { sql: `SELECT set_config('application_name', secret, false) FROM customers WHERE id = 1`, expect: REFUSED },
      ],
    },
    {
      id: '6.cast-error',
      class: 6,
      title: 'a cast error quoting a detector value',
      profile: 'mask',
      transport: 'pipeline',
      steps: [{ sql: 'SELECT email::int FROM customers' }, { sql: 'SELECT card::int FROM customers' }],
    },
  );
  return attacks;
}

/** Class 8: a forged WMASK notice must reach the client as a notice and count nothing. */
export function forgedCounterAttacks(forgedKey: string): Attack[] {
  const raise = (level: string) =>
    `DO $$ BEGIN RAISE ${level} '{"${forgedKey}": 1000}' USING ERRCODE = 'WMASK'; END $$`;
  return (
    [
      ['notice, simple', 'guard', 'simple', [raise('NOTICE')]],
      ['notice, extended', 'mask', 'extended', [raise('NOTICE')]],
      ['warning, psql', 'guard', 'psql', [raise('WARNING')]],
      ['LOG with client_min_messages = log', 'mask', 'simple', ['SET client_min_messages = log', raise('LOG')]],
      [
        'between masked rows',
        'mask',
        'pipeline',
        ['SELECT secret FROM customers', raise('NOTICE'), 'SELECT token FROM customers'],
      ],
    ] as const
  ).map(([label, profile, transport, steps]) => ({
    id: `8.${label}`,
    class: 8 as const,
    title: `forged WMASK (${label})`,
    profile,
    transport,
    steps: steps.map((sql) => ({ sql, expect: 'ok' as const })),
  }));
}
