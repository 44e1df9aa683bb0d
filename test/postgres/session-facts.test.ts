import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { adminQuery, uniqueName } from '../support/postgres.js';

// What the agent reports out of band, end to end through the real gateway and agent processes:
// masked-cell counts the target cannot forge (class 8), the catalog facts function rules follow
// through operators (class 4), and the target role's attributes, which gate column masking.
let dp: DataPath;
const appRole = uniqueName('warden_app');
const EMAILS = ['ada.lovelace@example.com', 'grace@navy.example.org'];

beforeAll(async () => {
  dp = await startDataPath();
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query('CREATE TABLE customers (id int PRIMARY KEY, email text, ssn text)');
  await direct.query("INSERT INTO customers VALUES (1, $1, '123-45-6789'), (2, $2, '219-09-9999')", EMAILS);
  // A user-defined operator over a function the default pack denies: calling it never names the function.
  await direct.query('CREATE OPERATOR ### (PROCEDURE = pg_read_file, RIGHTARG = text)');
  await direct.query(`CREATE ROLE ${appRole} LOGIN`);
  await direct.query(`GRANT SELECT ON customers TO ${appRole}`);
  await direct.end();
  const policies = [
    {
      name: 'mask-emails',
      kind: 'masking',
      rules: { masking: { detectors: [{ detector: 'email', strategy: 'redact' }] } },
    },
    {
      name: 'mask-ssn',
      kind: 'masking',
      rules: { masking: { columns: [{ column: 'public.customers.ssn', strategy: 'redact' }] } },
    },
  ];
  for (const body of policies) {
    const created = await dp.api.request('POST', '/api/policies', { body });
    expect(created.status, created.text).toBe(201);
  }
  // A connection created with the defaults makes the default pack (default-guardrails) exist.
  const defaults = await dp.api.request('POST', '/api/connections', {
    body: {
      name: 'pg-defaults',
      type: 'postgres',
      agent: 'edge',
      config: { host: '127.0.0.1', database: dp.targetDb, user: 'postgres' },
    },
  });
  expect(defaults.status, defaults.text).toBe(201);
  const app = await dp.api.request('POST', '/api/connections', {
    body: {
      name: 'pg-app',
      type: 'postgres',
      agent: 'edge',
      config: { host: '127.0.0.1', database: dp.targetDb, user: appRole, sslmode: 'disable' },
      policies: ['mask-ssn'],
    },
  });
  expect(app.status, app.text).toBe(201);
}, 120_000);

afterAll(async () => {
  await dp?.close();
  await adminQuery(`DROP ROLE IF EXISTS ${appRole}`).catch(() => {});
});

async function configure(policies: string[], options: Record<string, unknown> = {}): Promise<void> {
  const res = await dp.api.request('PATCH', '/api/connections/pg-test', {
    body: { policies, options: { allowPrivilegedTargetWithMasking: null, ...options } },
  });
  expect(res.status, res.text).toBe(200);
}

async function connect(connection = 'pg-test'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: dp.url(undefined, connection) });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The session that started after `since` and has ended (tests run one at a time). */
async function endedSessionSince(since: Date) {
  for (let i = 0; i < 50; i++) {
    const rows = await dp.api.db.prisma.session.findMany({
      where: { startedAt: { gte: since }, status: { not: 'active' } },
      orderBy: { startedAt: 'desc' },
    });
    if (rows[0]) return rows[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the session did not end');
}

describe('masked-cell counts come out of band', () => {
  it('a WMASK notice raised by the target is an ordinary notice and counts nothing', async () => {
    await configure(['default-guardrails', 'mask-emails']);
    const since = new Date();
    const client = await connect();
    const notices: { code?: string; message?: string }[] = [];
    client.on('notice', (n) => notices.push(n));
    await client.query(`DO $$ BEGIN RAISE NOTICE USING ERRCODE = 'WMASK', MESSAGE = '{"email": 1000}'; END $$`);
    const { rows } = await client.query<{ email: string }>('SELECT email FROM customers ORDER BY id');
    await client.end();
    expect(notices.map((n) => ({ code: n.code, message: n.message }))).toEqual([
      { code: 'WMASK', message: '{"email": 1000}' },
    ]);
    for (const row of rows) expect(EMAILS).not.toContain(row.email);
    const session = await endedSessionSince(since);
    // Exactly the two cells the agent masked: the forged notice added nothing.
    expect(session.maskedCells).toEqual({ email: 2 });
  });
});

describe('catalog facts', () => {
  it('a user-defined operator over a denied function is refused like the function', async () => {
    await configure(['default-guardrails']);
    const client = await connect();
    const error = await client.query(`SELECT ### 'postgresql.conf'`).then(
      () => null,
      (e: pg.DatabaseError) => e,
    );
    await client.end();
    expect(error?.code).toBe('42501');
    expect(error?.message).toMatch(/dangerous-functions/);
  });
});

describe('views and attribute notation over masked columns (catalog facts)', () => {
  // Objects the owner created before the session, outside Warden: nothing in a statement that
  // uses them shows that they read customers.ssn.
  beforeAll(async () => {
    const direct = new pg.Client({ connectionString: dp.directUrl });
    await direct.connect();
    await direct.query(`
      CREATE VIEW customers_view AS SELECT id, upper(ssn) AS ssn_copy FROM customers;
      CREATE VIEW customers_view_of_view AS SELECT * FROM customers_view;
      CREATE MATERIALIZED VIEW customers_mv AS SELECT id, ssn FROM customers;
      CREATE VIEW customers_contact AS SELECT id, email FROM customers;
      CREATE FUNCTION ssn_of(customers) RETURNS text LANGUAGE sql AS 'SELECT $1.ssn';
      GRANT SELECT ON customers_view, customers_view_of_view, customers_mv, customers_contact TO ${appRole};`);
    await direct.end();
  });

  const refusal = async (client: pg.Client, sql: string, values?: unknown[]) =>
    client.query(sql, values).then(
      () => null,
      (e: pg.DatabaseError) => e,
    );

  it('each route returns raw values when it does not go through Warden', async () => {
    const url = new URL(dp.directUrl);
    url.username = appRole;
    const direct = new pg.Client({ connectionString: url.toString() });
    await direct.connect();
    for (const sql of [
      'SELECT ssn_copy AS v FROM customers_view ORDER BY id',
      'SELECT ssn_copy AS v FROM customers_view_of_view ORDER BY id',
      'SELECT ssn AS v FROM customers_mv ORDER BY id',
      'SELECT c.ssn_of AS v FROM customers c ORDER BY id',
    ]) {
      const { rows } = await direct.query<{ v: string }>(sql);
      expect(
        rows.map((r) => r.v),
        sql,
      ).toEqual(['123-45-6789', '219-09-9999']);
    }
    await direct.end();
  });

  it('an existing view, a view of it and a materialized view over ssn are refused, naming view and column', async () => {
    const client = await connect('pg-app');
    for (const [sql, view] of [
      ['SELECT ssn_copy FROM customers_view', 'view public.customers_view'],
      ['SELECT * FROM customers_view_of_view', 'view public.customers_view_of_view'],
      ['SELECT ssn FROM public.customers_mv', 'materialized view public.customers_mv'],
      ['SELECT id FROM customers WHERE id IN (SELECT id FROM customers_view)', 'view public.customers_view'],
      ['COPY customers_view TO STDOUT', 'view public.customers_view'],
    ] as const) {
      const error = await refusal(client, sql);
      expect(error?.code, sql).toBe('42501');
      expect(error?.message, sql).toContain(view);
      expect(error?.message, sql).toContain('masked column public.customers.ssn');
      expect(error?.message, sql).toMatch(/query public\.customers directly/);
    }
    // The extended protocol is judged the same way.
    const extended = await refusal(client, 'SELECT ssn_copy FROM customers_view WHERE id = $1', [1]);
    expect(extended?.code).toBe('42501');
    expect(extended?.message).toContain('view public.customers_view');
    await client.end();
  });

  it('a user-defined function called on the row with attribute notation is refused', async () => {
    const client = await connect('pg-app');
    const error = await refusal(client, 'SELECT c.ssn_of FROM customers c');
    expect(error?.code).toBe('42501');
    expect(error?.message).toContain('"c.ssn_of" is not a column of public.customers');
    expect(error?.message).toContain('ssn_of(c)');
    await client.end();
  });

  it('a child table of a masked table is judged like it: ssn masked when selected, refused inside an expression', async () => {
    const direct = new pg.Client({ connectionString: dp.directUrl });
    await direct.connect();
    await direct.query(`
      CREATE TABLE customers_eu (region text) INHERITS (customers);
      INSERT INTO customers_eu VALUES (3, 'eu@example.org', '078-05-1120', 'eu');
      GRANT SELECT ON customers_eu TO ${appRole}`);
    const client = await connect('pg-app');
    const error = await refusal(client, 'SELECT upper(ssn) FROM customers_eu');
    expect(error?.code).toBe('42501');
    expect(error?.message).toContain('public.customers.ssn');
    const { rows } = await client.query<{ ssn: string; region: string }>('SELECT ssn, region FROM customers_eu');
    expect(rows).toEqual([{ ssn: expect.not.stringMatching(/\d{3}-\d{2}-\d{4}/), region: 'eu' }]);
    await client.end();
    await direct.query('DROP TABLE customers_eu');
    await direct.end();
  });

  it('the table itself is still masked, and a view that does not touch ssn still works', async () => {
    const client = await connect('pg-app');
    const masked = await client.query<{ ssn: string }>('SELECT c.ssn FROM customers c ORDER BY id');
    expect(masked.rows).toHaveLength(2);
    for (const row of masked.rows) expect(row.ssn).not.toMatch(/\d{3}-\d{2}-\d{4}/);
    const contact = await client.query<{ email: string }>('SELECT email FROM customers_contact ORDER BY id');
    expect(contact.rows.map((r) => r.email)).toEqual(EMAILS);
    await client.end();
  });
});

describe('column masking on a privileged target role', () => {
  it('is refused without the opt-in, with 42501 naming the option, and logged', async () => {
    await configure(['mask-ssn']);
    const error = await connect().then(
      async (c) => {
        await c.end();
        return null;
      },
      (e: pg.DatabaseError) => e,
    );
    expect(error?.code).toBe('42501');
    expect(error?.message).toContain('superuser');
    expect(error?.message).toContain('allowPrivilegedTargetWithMasking');
    // The refusal is logged, with the reason (the log line may trail the client's error a little).
    const [line] = await dp.gateway.waitFor(/.*postgres session refused at start.*/, 5_000);
    expect(line).toContain('allowPrivilegedTargetWithMasking');
  });

  it('runs with the opt-in, and masks', async () => {
    await configure(['mask-ssn'], { allowPrivilegedTargetWithMasking: true });
    const client = await connect();
    const { rows } = await client.query<{ ssn: string }>('SELECT ssn FROM customers ORDER BY id');
    await client.end();
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.ssn).not.toMatch(/\d{3}-\d{2}-\d{4}/);
  });

  it('detectors alone on a superuser target need no opt-in', async () => {
    await configure(['mask-emails']);
    const client = await connect();
    const { rows } = await client.query<{ email: string }>('SELECT email FROM customers ORDER BY id');
    await client.end();
    for (const row of rows) expect(EMAILS).not.toContain(row.email);
  });

  it('a least-privilege target role masks columns without the opt-in', async () => {
    const client = await connect('pg-app');
    const { rows } = await client.query<{ ssn: string }>('SELECT ssn FROM customers ORDER BY id');
    await client.end();
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row.ssn).not.toMatch(/\d{3}-\d{2}-\d{4}/);
  });
});

describe('the target role as the API shows it', () => {
  it('a superuser target is reported by the agent, stored, and warned about by the API', async () => {
    await configure(['default-guardrails']);
    const client = await connect();
    await client.query('SELECT 1');
    await client.end();
    let shown: { targetRole: { superuser: boolean } | null; warnings: string[] } | undefined;
    for (let i = 0; i < 50 && !shown?.targetRole; i++) {
      shown = (await dp.api.request('GET', '/api/connections/pg-test')).body;
      if (!shown?.targetRole) await new Promise((r) => setTimeout(r, 100));
    }
    expect(shown?.targetRole).toMatchObject({ superuser: true, createRole: true });
    expect(shown?.warnings.join('\n')).toMatch(/superuser/);
  });

  it('a least-privilege role gets no warning', async () => {
    const client = await connect('pg-app');
    await client.query('SELECT 1');
    await client.end();
    let shown: { targetRole: { superuser: boolean } | null; warnings: string[] } | undefined;
    for (let i = 0; i < 50 && !shown?.targetRole; i++) {
      shown = (await dp.api.request('GET', '/api/connections/pg-app')).body;
      if (!shown?.targetRole) await new Promise((r) => setTimeout(r, 100));
    }
    expect(shown?.targetRole).toEqual(
      expect.objectContaining({ superuser: false, createRole: false, serverFileRoles: [] }),
    );
    expect(shown?.warnings).toEqual([]);
  });
});
