import { REFUSED, type Attack, type CorpusContext, type Transport } from './attack-corpus.js';

// Classes 3 (SQL inside strings), 4 (code and reach created by DDL) and 7 (writes that hit
// everything) of issue 22; see attack-corpus.ts for the shape of an attack.

const cycle = <T>(items: readonly T[], i: number): T => items[i % items.length]!;
const TRANSPORTS: Transport[] = ['simple', 'extended', 'binary', 'pipeline', 'psql'];

/** Class 3: functions that run SQL text must be refused, or the inner SQL judged as the statement. */
export function sqlInStringAttacks(ctx: CorpusContext): Attack[] {
  const masked: [string, string][] = [
    ['query_to_xml', `SELECT query_to_xml('select secret from customers', true, false, '')`],
    ['pg_catalog.query_to_xml', `SELECT pg_catalog.query_to_xml('select token from customers', true, false, '')`],
    ['"query_to_xml" in FROM', `SELECT * FROM "query_to_xml"($q$select secret from customers$q$, true, false, '')`],
    ['query_to_xml of a computed text', `SELECT query_to_xml('select sec' || 'ret from customers', true, false, '')`],
    [
      'query_to_xml_and_xmlschema',
      `SELECT query_to_xml_and_xmlschema('select secret from customers', true, false, '')`,
    ],
    ['table_to_xml', `SELECT table_to_xml('customers', true, false, '')`],
    ['table_to_xml by regclass', `SELECT table_to_xml('public.customers'::regclass, true, false, '')`],
    ['schema_to_xml', `SELECT schema_to_xml('public', true, false, '')`],
    ['database_to_xml', `SELECT database_to_xml(true, false, '')`],
    ['ts_stat', `SELECT * FROM ts_stat('select to_tsvector(''simple'', secret) from customers')`],
    [
      'ts_rewrite',
      `SELECT ts_rewrite('x'::tsquery, 'select ''x''::tsquery, to_tsquery(''simple'', secret) from customers')`,
    ],
    [
      'crosstab',
      `SELECT * FROM crosstab('select name, ''c'', secret from customers order by 1') AS ct(name text, v text)`,
    ],
    [
      'crosstab with categories',
      `SELECT * FROM crosstab('select name, ''c'', token from customers order by 1', 'select ''c''') AS ct(name text, v text)`,
    ],
    ['connectby', `SELECT * FROM connectby('customers', 'secret', 'name', 'Name1', 1) AS t(k text, p text, level int)`],
    [
      'xpath_table',
      `SELECT * FROM xpath_table('secret', '''<a>1</a>''', 'customers', '/a', 'true') AS t(k text, v text)`,
    ],
  ];
  const attacks: Attack[] = masked.map(([label, sql], i) => ({
    id: `3.masked.${label}`,
    class: 3 as const,
    title: `${label} over the masked column`,
    profile: 'mask' as const,
    transport: cycle(TRANSPORTS, i),
    steps: [{ sql, expect: REFUSED }],
  }));
  attacks.push({
    id: '3.masked.cursor_to_xml',
    class: 3,
    title: 'cursor_to_xml over a cursor on the masked table',
    profile: 'mask',
    transport: 'simple',
    steps: [
      { sql: 'BEGIN' },
      { sql: 'DECLARE c CURSOR FOR SELECT * FROM customers' },
      { sql: `SELECT cursor_to_xml('c', 10, false, false, '')`, expect: REFUSED },
      { sql: 'COMMIT' },
    ],
  });
  const file = ctx.secretFile;
  const guarded: [string, string][] = [
    ['query_to_xml hiding pg_read_file', `SELECT query_to_xml('select pg_read_file(''${file}'')', true, false, '')`],
    ['ts_stat hiding pg_read_file', `SELECT * FROM ts_stat('select to_tsvector(pg_read_file(''${file}''))')`],
    [
      'crosstab hiding pg_read_file',
      `SELECT * FROM crosstab('select ''a''::text, ''b''::text, pg_read_file(''${file}'')') AS t(a text, b text)`,
    ],
    [
      'xpath_table hiding pg_read_file',
      `SELECT * FROM xpath_table('k', 'd', '(select 1 as k, ''<a/>'' as d, pg_read_file(''${file}'') as f) s', '/a', 'true') AS t(k int, v text)`,
    ],
  ];
  guarded.forEach(([label, sql], i) =>
    attacks.push({
      id: `3.guard.${label}`,
      class: 3,
      title: label,
      profile: 'guard',
      transport: cycle(TRANSPORTS, i + 1),
      steps: [{ sql, expect: REFUSED }],
    }),
  );
  return attacks;
}

/** Class 4: the default pack refuses DDL that creates code or reach, and follows indirect references. */
export function ddlAttacks(ctx: CorpusContext): Attack[] {
  const file = ctx.secretFile;
  const touch = `touch ${ctx.marker}`;
  const attacks: Attack[] = [];
  const add = (id: string, title: string, transport: Transport, steps: Attack['steps'], checks?: Attack['checks']) =>
    attacks.push({ id: `4.${id}`, class: 4, title, profile: 'guard', transport, steps, ...(checks ? { checks } : {}) });

  add(
    'file_fdw',
    'CREATE EXTENSION file_fdw, a server and a foreign table over the secret file',
    'simple',
    [
      { sql: 'CREATE EXTENSION file_fdw', expect: REFUSED },
      { sql: 'CREATE SERVER files FOREIGN DATA WRAPPER file_fdw' },
      { sql: `CREATE FOREIGN TABLE leak_file (line text) SERVER files OPTIONS (filename '${file}')` },
      { sql: 'SELECT * FROM leak_file' },
    ],
    ['no-new-objects'],
  );
  add(
    'file_fdw.one-string',
    'the same in one simple Query string',
    'simple',
    [
      {
        sql: `CREATE EXTENSION IF NOT EXISTS "file_fdw" WITH SCHEMA public; CREATE SERVER files FOREIGN DATA WRAPPER file_fdw; CREATE FOREIGN TABLE leak_file (line text) SERVER files OPTIONS (filename '${file}'); SELECT * FROM leak_file`,
        expect: REFUSED,
      },
    ],
    ['no-new-objects'],
  );
  for (const [ext, transport] of [
    ['pageinspect', 'extended'],
    ['postgres_fdw', 'pipeline'],
    ['dblink', 'psql'],
    ['adminpack', 'simple'],
    ['pg_surgery', 'extended'],
  ] as const) {
    add(
      `extension.${ext}`,
      `CREATE EXTENSION ${ext}`,
      transport,
      [{ sql: `CREATE EXTENSION ${ext}`, expect: REFUSED }],
      ['no-new-objects'],
    );
  }
  add(
    'fdw-and-server',
    'CREATE FOREIGN DATA WRAPPER and SERVER',
    'simple',
    [
      { sql: 'CREATE FOREIGN DATA WRAPPER bare_fdw', expect: REFUSED },
      { sql: 'CREATE SERVER bare FOREIGN DATA WRAPPER bare_fdw', expect: REFUSED },
    ],
    ['no-new-objects'],
  );
  const operators: [string, string][] = [
    ['FUNCTION', `CREATE OPERATOR ### (RIGHTARG = text, FUNCTION = pg_read_file)`],
    ['PROCEDURE, qualified', `CREATE OPERATOR ### (RIGHTARG = text, PROCEDURE = pg_catalog.pg_read_file)`],
    ['quoted', `CREATE OPERATOR ### (RIGHTARG = text, FUNCTION = "pg_catalog"."pg_read_file")`],
  ];
  operators.forEach(([label, sql], i) =>
    add(
      `operator.${label}`,
      `CREATE OPERATOR over pg_read_file (${label})`,
      cycle(TRANSPORTS, i),
      [{ sql, expect: REFUSED }, { sql: `SELECT ### '${file}'` }],
      ['no-new-objects'],
    ),
  );
  add(
    'aggregate',
    'CREATE AGGREGATE whose transition function is pg_read_file',
    'simple',
    [
      {
        sql: `CREATE AGGREGATE leak_agg(bigint, bigint) (SFUNC = pg_read_file, STYPE = text, INITCOND = '${file}')`,
        expect: REFUSED,
      },
      { sql: 'SELECT leak_agg(0, 200)' },
    ],
    ['no-new-objects'],
  );
  add(
    'cast',
    'CREATE CAST whose function is lo_import',
    'extended',
    [
      { sql: 'CREATE CAST (varchar AS oid) WITH FUNCTION pg_catalog.lo_import(text)', expect: REFUSED },
      { sql: `SELECT lo_get('${file}'::varchar::oid)` },
    ],
    ['no-new-objects', 'no-large-objects'],
  );
  // Made by the owner in setup: only catalog facts show what runs.
  const indirect: [string, string, Transport][] = [
    ['existing operator', `SELECT #~# '${file}'`, 'simple'],
    ['existing operator, OPERATOR() syntax', `SELECT OPERATOR(public.#~#) '${file}'`, 'extended'],
    ['existing aggregate', 'SELECT readagg(0, 200)', 'pipeline'],
    ['existing cast', `SELECT lo_get(('${file}'::text)::oid)`, 'psql'],
    ['existing cast over a row source', `SELECT lo_get(x::oid) FROM (VALUES ('${file}'::text)) v(x)`, 'binary'],
  ];
  for (const [label, sql, transport] of indirect) {
    add(
      `indirect.${label}`,
      `${label} that runs a denied function`,
      transport,
      [{ sql, expect: REFUSED }],
      ['no-large-objects'],
    );
  }
  add('event-trigger', 'CREATE EVENT TRIGGER', 'simple', [
    { sql: `CREATE FUNCTION et_fn() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; END $$` },
    { sql: 'CREATE EVENT TRIGGER et ON ddl_command_start EXECUTE FUNCTION et_fn()', expect: REFUSED },
  ]);
  add(
    'alter-system',
    'ALTER SYSTEM',
    'simple',
    [{ sql: 'ALTER SYSTEM SET log_min_duration_statement = 123456', expect: REFUSED }],
    ['no-alter-system'],
  );
  const roleChanges: [string, string][] = [
    ['SET ROLE', `SET ROLE ${ctx.appRole}`],
    ['SET ROLE server program', 'SET ROLE pg_execute_server_program'],
    ['SET SESSION AUTHORIZATION', `SET SESSION AUTHORIZATION ${ctx.appRole}`],
    ['set_config role', `SELECT set_config('role', '${ctx.appRole}', false)`],
    ['session_replication_role', 'SET session_replication_role = replica'],
    ['set_config session_replication_role', `SELECT set_config('session_replication_role', 'replica', false)`],
  ];
  roleChanges.forEach(([label, sql], i) =>
    add(`role.${label}`, label, cycle(['simple', 'extended', 'psql'] as Transport[], i), [{ sql, expect: REFUSED }]),
  );
  const serverSide: [string, string, Attack['checks']?][] = [
    ['COPY TO PROGRAM', `COPY (SELECT 1) TO PROGRAM '${touch}'`],
    ['copy lower case', `copy orders to program '${touch}'`],
    ['COPY columns TO PROGRAM csv', `COPY orders (id) TO PROGRAM '${touch}' WITH (FORMAT csv)`],
    ['COPY TO PROGRAM in DO', `DO $$ BEGIN COPY (SELECT 1) TO PROGRAM '${touch}'; END $$`],
    ['COPY TO server file', `COPY (SELECT 1) TO '${ctx.marker}'`],
    ['COPY FROM PROGRAM', `COPY sink FROM PROGRAM '${touch}'`],
    ['COPY FROM secret file', `COPY sink FROM '${file}'`, ['sink-empty']],
    ['COPY FROM /etc/passwd', `COPY sink FROM '/etc/passwd'`, ['sink-empty']],
  ];
  serverSide.forEach(([label, sql, checks], i) =>
    add(
      `copy.${label}`,
      label,
      cycle(['simple', 'psql', 'pipeline'] as Transport[], i),
      [{ sql, expect: REFUSED }],
      checks,
    ),
  );
  const reads: [string, string][] = [
    ['pg_read_file', `SELECT pg_read_file('${file}')`],
    ['pg_catalog.pg_read_file', `SELECT pg_catalog.pg_read_file('${file}')`],
    ['"pg_read_file"', `SELECT "pg_read_file"('${file}')`],
    ['"pg_catalog"."pg_read_file"', `SELECT "pg_catalog"."pg_read_file"('${file}', 0, 200, true)`],
    ['upper case', `SELECT PG_READ_FILE('${file}')`],
    ['pg_read_binary_file', `SELECT pg_read_binary_file('${file}')`],
    ['in FROM', `SELECT * FROM pg_read_file('${file}') AS t`],
    ['ROWS FROM', `SELECT * FROM ROWS FROM (pg_read_file('${file}')) AS t(c)`],
    ['in a CTE', `WITH x AS (SELECT pg_read_file('${file}') AS c) SELECT c FROM x`],
    ['over a row source', `SELECT pg_read_file(x) FROM (VALUES ('${file}')) v(x)`],
    ['lo_import', `SELECT lo_import('${file}')`],
    ['pg_stat_file', `SELECT pg_stat_file('${file}')`],
    ['pg_ls_dir', `SELECT pg_ls_dir('/tmp')`],
  ];
  reads.forEach(([label, sql], i) =>
    add(
      `read.${label}`,
      `server file read: ${label}`,
      cycle(TRANSPORTS, i),
      [{ sql, expect: REFUSED }],
      ['no-large-objects'],
    ),
  );
  add(
    'read.view',
    'a view over pg_read_file, then a read of it',
    'simple',
    [
      { sql: `CREATE VIEW file_view AS SELECT pg_read_file('${file}') AS c`, expect: REFUSED },
      { sql: 'SELECT c FROM file_view' },
    ],
    ['no-new-objects'],
  );
  add(
    'read.function',
    'a SQL function wrapping pg_read_file, then a call',
    'simple',
    [
      { sql: `CREATE FUNCTION file_fn(text) RETURNS text LANGUAGE sql AS 'SELECT pg_read_file($1)'`, expect: REFUSED },
      { sql: `SELECT file_fn('${file}')` },
    ],
    ['no-new-objects'],
  );
  add('read.prepare', 'PREPARE over pg_read_file, then EXECUTE', 'simple', [
    { sql: 'PREPARE file_read(text) AS SELECT pg_read_file($1)', expect: REFUSED },
    { sql: `EXECUTE file_read('${file}')` },
  ]);
  add('adminpack.write', 'pg_file_write (adminpack) to create the marker', 'simple', [
    { sql: `SELECT pg_file_write('${ctx.marker}', 'x', false)`, expect: 'refused-or-closed' },
  ]);
  return attacks;
}

/** Class 7: UPDATE/DELETE/MERGE above max_rows_affected are rolled back with 42501 naming the rule. */
export function writeAllAttacks(): Attack[] {
  const rowLimit = { refused: '42501', mentions: /max[-_ ]?rows/i } as const;
  const statements: [string, string, Transport][] = [
    ['WHERE id = id', `UPDATE orders SET note = 'hit' WHERE id = id`, 'simple'],
    ['WHERE x IS NOT NULL', `UPDATE orders SET note = 'hit' WHERE note IS NOT NULL`, 'extended'],
    ['WHERE true OR', 'DELETE FROM orders WHERE true OR id = 1', 'pipeline'],
    ['DELETE WHERE id = id', 'DELETE FROM orders WHERE id = id', 'psql'],
    ['WHERE id > 0', `UPDATE orders SET note = 'hit' WHERE id > 0`, 'raw'],
    ['IN (SELECT all)', `UPDATE orders SET note = 'hit' WHERE id IN (SELECT id FROM orders)`, 'simple'],
    ['UPDATE FROM', `UPDATE orders SET note = 'hit' FROM (SELECT 1) s WHERE orders.customer_id > 0`, 'extended'],
    [
      'MERGE ON true',
      `MERGE INTO orders o USING (SELECT 1 AS x) s ON true WHEN MATCHED THEN UPDATE SET note = 'hit'`,
      'simple',
    ],
    ['MERGE delete', 'MERGE INTO orders o USING (SELECT 1 AS x) s ON o.id = o.id WHEN MATCHED THEN DELETE', 'psql'],
    ['DELETE WHERE note IS NOT NULL', 'DELETE FROM orders WHERE note IS NOT NULL', 'binary'],
  ];
  const attacks: Attack[] = statements.map(([label, sql, transport]) => ({
    id: `7.${label}`,
    class: 7 as const,
    title: `${label} touches every row: rolled back, 42501 naming max_rows_affected`,
    profile: 'guard' as const,
    transport,
    steps: [{ sql, expect: rowLimit }],
    checks: ['orders-intact' as const],
  }));
  attacks.push(
    {
      id: '7.in-transaction',
      class: 7,
      title: 'inside an explicit transaction: the write is undone and COMMIT keeps nothing of it',
      profile: 'guard',
      transport: 'simple',
      steps: [
        { sql: 'BEGIN' },
        { sql: `UPDATE orders SET note = 'hit' WHERE id = id`, expect: rowLimit },
        { sql: 'COMMIT' },
      ],
      checks: ['orders-intact'],
    },
    {
      id: '7.nested',
      class: 7,
      title: 'writes the gateway cannot measure (CTE, DO, several statements) are refused',
      profile: 'guard',
      transport: 'simple',
      steps: [
        {
          sql: `WITH u AS (UPDATE orders SET note = 'hit' WHERE id = id RETURNING 1) SELECT count(*) FROM u`,
          expect: REFUSED,
        },
        { sql: `DO $$ BEGIN UPDATE orders SET note = 'hit' WHERE id = id; END $$`, expect: REFUSED },
        { sql: `UPDATE orders SET note = 'hit' WHERE id = id; SELECT 1`, expect: REFUSED },
      ],
      checks: ['orders-intact'],
    },
    {
      id: '7.prepared',
      class: 7,
      title: 'PREPARE/EXECUTE of an all-rows UPDATE',
      profile: 'guard',
      transport: 'simple',
      steps: [{ sql: `PREPARE hit AS UPDATE orders SET note = 'hit' WHERE id = id` }, { sql: 'EXECUTE hit' }],
      checks: ['orders-intact'],
    },
    {
      id: '7.small-write-allowed',
      class: 7,
      title: 'a write under the limit runs',
      profile: 'guard',
      transport: 'extended',
      steps: [{ sql: `UPDATE orders SET note = 'orig' WHERE id <= 10`, expect: 'ok' }],
      checks: ['orders-intact'],
    },
  );
  return attacks;
}
