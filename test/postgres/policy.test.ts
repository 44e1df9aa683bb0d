import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';

// Guardrails and masking enforced end to end: decisions at the real gateway process,
// masking inside the real agent process, driven by psql, node-postgres and postgres.js.
let dp: DataPath;
const customers = [
  {
    id: 1,
    name: 'Ada',
    email: 'ada.lovelace@example.com',
    card: '4111 1111 1111 1111',
    ssn: '123-45-6789',
    note: 'call +1 415 555 0100',
  },
  {
    id: 2,
    name: 'Grace',
    email: 'grace@navy.example.org',
    card: '5500 0000 0000 0004',
    ssn: '219-09-9999',
    note: 'no notes',
  },
];
const rawValues = customers.flatMap((c) => [c.email, c.card, c.ssn, c.card.replace(/ /g, '')]);

beforeAll(async () => {
  dp = await startDataPath();
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query(
    'CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text, ssn text, note text)',
  );
  for (const c of customers) {
    await direct.query('INSERT INTO customers VALUES ($1, $2, $3, $4, $5, $6)', [
      c.id,
      c.name,
      c.email,
      c.card,
      c.ssn,
      c.note,
    ]);
  }
  await direct.query('CREATE TABLE audit_log (id int, what text)');
  await direct.end();
  const masking = await dp.api.request('POST', '/api/policies', {
    body: {
      name: 'mask-customers',
      kind: 'masking',
      rules: {
        masking: {
          columns: [{ column: 'public.customers.ssn', strategy: 'redact' }],
          detectors: [
            { detector: 'email', strategy: 'domain' },
            { detector: 'credit_card', strategy: 'last4' },
            { detector: 'us_ssn', strategy: 'redact' },
          ],
        },
      },
    },
  });
  expect(masking.status).toBe(201);
  // The default pack's guardrails exist once any connection was created with defaults.
  await dp.api.request('POST', '/api/connections', {
    body: {
      name: 'pg-defaults',
      type: 'postgres',
      agent: 'edge',
      config: { host: '127.0.0.1', database: dp.targetDb, user: 'postgres' },
    },
  });
  const attached = await dp.api.request('PATCH', '/api/connections/pg-test', {
    // The target role is the local superuser `postgres`: column masking on it needs the opt-in.
    body: { policies: ['default-guardrails', 'mask-customers'], options: { allowPrivilegedTargetWithMasking: true } },
  });
  expect(attached.status).toBe(200);
});
afterAll(async () => {
  await dp?.close();
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: dp.url() });
  await c.connect();
  return c;
}

function expectNoRawValues(text: string) {
  for (const raw of rawValues) expect(text).not.toContain(raw);
}

describe('masking', () => {
  it('masks sensitive values in results (psql, simple protocol)', async () => {
    const out = await dp.psql(['-A', '-c', 'SELECT * FROM customers ORDER BY id']);
    expect(out.stderr).toBe('');
    expectNoRawValues(out.stdout);
    expect(out.stdout).toContain('Ada');
    expect(out.stdout).toContain('@example.com');
    expect(out.stdout).toContain('1111');
    expect(out.stdout).toContain('no notes');
  });

  it('records masked-cell counts on the session, without showing the agent report to the client', async () => {
    const notices: string[] = [];
    const c = new pg.Client({ connectionString: dp.url(), application_name: 'count-check' });
    c.on('notice', (n) => notices.push(n.message ?? ''));
    await c.connect();
    await c.query('SELECT email, ssn FROM customers');
    await c.end();
    expect(notices).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    const sessions = await dp.api.db.prisma.session.findMany({
      where: { status: 'closed' },
      orderBy: { startedAt: 'desc' },
    });
    const counted = sessions.find((s) => (s.maskedCells as Record<string, number>).email === 2);
    expect(counted?.maskedCells).toMatchObject({ email: 2, 'column:public.customers.ssn': 2 });
  });

  it('masks in the extended protocol, text and binary results', async () => {
    const c = await client();
    try {
      const text = await c.query('SELECT name, email, card, ssn FROM customers WHERE id = $1', [1]);
      expectNoRawValues(JSON.stringify(text.rows));
      expect(text.rows[0].name).toBe('Ada');
      expect(text.rows[0].email).toMatch(/@example\.com$/);
      const binary = await c.query({
        text: 'SELECT email, ssn FROM customers ORDER BY id',
        binary: true,
      } as pg.QueryConfig);
      expectNoRawValues(JSON.stringify(binary.rows));
    } finally {
      await c.end();
    }
  });

  it.each([
    ['a function over a masked column', 'SELECT lower(ssn) FROM customers'],
    ['a cast', 'SELECT ssn::varchar FROM customers'],
    ['an operator', "SELECT ssn || '' FROM customers"],
    ['an aggregate', "SELECT string_agg(ssn, ',') FROM customers"],
    ['row_to_json of the row', 'SELECT row_to_json(c) FROM customers c'],
    ['a whole-row reference', 'SELECT c FROM customers c'],
    ['CREATE TABLE AS', 'CREATE TABLE leak AS SELECT ssn FROM customers'],
    ['SELECT INTO', 'SELECT ssn INTO leak2 FROM customers'],
    ['COPY (query) TO STDOUT', 'COPY (SELECT ssn FROM customers) TO STDOUT'],
    ['COPY table TO STDOUT', 'COPY customers TO STDOUT'],
    ['a WHERE predicate', "SELECT name FROM customers WHERE ssn LIKE '1%'"],
    ['ORDER BY', 'SELECT name FROM customers ORDER BY ssn'],
    ['a JOIN condition', 'SELECT a.name FROM customers a JOIN customers b ON a.ssn = b.ssn'],
    ['a view over the masked column', 'CREATE VIEW leak_view AS SELECT ssn FROM customers'],
    [
      'a function over the masked column',
      "CREATE FUNCTION leak_fn() RETURNS SETOF text LANGUAGE sql AS 'SELECT ssn FROM customers'",
    ],
    ['a RETURNING clause', 'UPDATE customers SET name = name WHERE id = 1 RETURNING ssn'],
  ])('refuses %s with 42501', async (_label, sql) => {
    const c = await client();
    try {
      await expect(c.query(sql)).rejects.toMatchObject({ code: '42501' });
      // The session goes on.
      expect((await c.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    } finally {
      await c.end();
    }
  });
});

describe('guardrails', () => {
  it.each([
    ['DROP TABLE customers', 'default.destructive-ddl'],
    ['TRUNCATE audit_log', 'default.destructive-ddl'],
    ['ALTER TABLE customers ADD COLUMN x int', 'default.destructive-ddl'],
    ['DELETE FROM audit_log', 'default.require-where'],
    ['UPDATE audit_log SET what = 1', 'default.require-where'],
    ["SELECT pg_read_file('/etc/passwd')", 'default.dangerous-functions'],
    ["COPY audit_log TO PROGRAM 'cat'", 'default.copy-server-side'],
    ["COPY audit_log FROM '/etc/passwd'", 'default.copy-server-side'],
    ['GRANT ALL ON customers TO public', 'default.privileges'],
    ['CREATE ROLE intruder', 'default.privileges'],
  ])('refuses %s, naming the rule, and the session goes on', async (sql, rule) => {
    const c = await client();
    try {
      const error = await c.query(sql).then(
        () => null,
        (e: { code: string; message: string }) => e,
      );
      expect(error?.code).toBe('42501');
      expect(error?.message).toContain(rule);
      expect((await c.query('SELECT count(*)::int AS n FROM customers')).rows[0].n).toBe(2);
    } finally {
      await c.end();
    }
  });

  it('allows DELETE with WHERE and ordinary writes', async () => {
    const c = await client();
    try {
      await c.query("INSERT INTO audit_log VALUES (1, 'x')");
      expect((await c.query('DELETE FROM audit_log WHERE id = 1')).rowCount).toBe(1);
    } finally {
      await c.end();
    }
  });

  it('refuses SQL it cannot parse (fail closed)', async () => {
    const out = await dp.psql(['-c', 'SELEC nonsense FROM']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/could not parse/i);
  });

  it('a blocked Parse inside a pipeline does not leave the pipeline stuck', async () => {
    const sql = postgres(dp.url(), { max: 1, onnotice: () => {} });
    try {
      const results = await Promise.allSettled([
        sql`SELECT 1 AS a`,
        sql.unsafe('DROP TABLE customers'),
        sql.unsafe('TRUNCATE audit_log'),
        sql`SELECT 3 AS c`,
      ]);
      expect(results[0].status).toBe('fulfilled');
      // Two refusals in one pipelined batch: each gets its own policy error.
      for (const r of [results[1], results[2]]) {
        expect((r as PromiseRejectedResult).reason.code).toBe('42501');
        expect((r as PromiseRejectedResult).reason.message).toContain('default.destructive-ddl');
      }
      expect(results[3].status).toBe('fulfilled');
    } finally {
      await sql.end();
    }
  });

  it('inside a transaction, a blocked statement aborts it like any error', async () => {
    const c = await client();
    try {
      await c.query('BEGIN');
      await expect(c.query('DROP TABLE customers')).rejects.toMatchObject({ code: '42501' });
      await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' });
      await c.query('ROLLBACK');
      expect((await c.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    } finally {
      await c.end();
    }
  });

  it('records blocked statements on the session', async () => {
    await dp.psql(['-c', 'DROP TABLE customers']);
    await new Promise((r) => setTimeout(r, 300));
    const sessions = await dp.api.db.prisma.session.findMany({ where: { blockedCount: { gt: 0 } } });
    expect(sessions.length).toBeGreaterThan(0);
  });
});
