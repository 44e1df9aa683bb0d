import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';

// Issue 22, class 6: values in errors and side channels, through the real gateway and agent.
// `pg-test` masks customers.ssn by column rule (plus detectors); `pg-detect` has detectors only
// (pg_stats is refused where column rules exist). The agent masks before the tunnel, so the
// client must never see a canary: not in rows (text or binary), errors, notices, settings,
// notifications or COPY data.
let dp: DataPath;
const CARD = '4111111111111111';
const MASKED_CARD = '************1111';
// Not shaped like anything a detector knows: only the column rule protects it.
const SSN_CANARY = 'CANARY-SSN-7781';
const EMAIL = 'ada.lovelace@example.com';

beforeAll(async () => {
  dp = await startDataPath();
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query(`
    CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, card text, ssn text);
    -- Without ssn: a view over a masked column is refused outright (catalog facts), and the detail
    -- of any error is withheld under column rules whatever the view's columns.
    CREATE VIEW positive_customers AS SELECT id, name, email, card FROM customers WHERE id > 0 WITH CHECK OPTION;
    INSERT INTO customers SELECT i, 'name' || i, '${EMAIL}', '${CARD}', '${SSN_CANARY}' FROM generate_series(1, 20) i;
    CREATE FUNCTION tell_ssn() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.name = 'tell' THEN
        RAISE NOTICE 'changed' USING DETAIL = NEW.ssn, HINT = NEW.ssn;
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER tell_ssn BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION tell_ssn();
    ANALYZE customers;`);
  await direct.end();
  const detectors = [
    { detector: 'email', strategy: 'redact' },
    { detector: 'credit_card', strategy: 'last4' },
  ];
  for (const [name, masking] of [
    ['mask-ssn', { columns: [{ column: 'public.customers.ssn', strategy: 'redact' }], detectors }],
    ['detect-pii', { columns: [], detectors }],
  ] as const) {
    const res = await dp.api.request('POST', '/api/policies', { body: { name, kind: 'masking', rules: { masking } } });
    expect(res.status, res.text).toBe(201);
  }
  // The local target role is a superuser: column masking on it needs the explicit opt-in.
  const patched = await dp.api.request('PATCH', '/api/connections/pg-test', {
    body: { policies: ['mask-ssn'], options: { allowPrivilegedTargetWithMasking: true } },
  });
  expect(patched.status, patched.text).toBe(200);
  const created = await dp.api.request('POST', '/api/connections', {
    body: {
      name: 'pg-detect',
      type: 'postgres',
      agent: 'edge',
      config: { host: '127.0.0.1', port: 5432, database: dp.targetDb, user: 'postgres', sslmode: 'disable' },
      policies: ['detect-pii'],
    },
  });
  expect(created.status, created.text).toBe(201);
});
afterAll(async () => {
  await dp?.close();
});

async function client(connection: 'pg-test' | 'pg-detect', binary = false): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: dp.url(undefined, connection), binary } as pg.ClientConfig);
  await c.connect();
  return c;
}

/** Everything the client got, as text: Buffers (binary cells) as latin1 bytes. */
function seen(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
      ? Buffer.from((v as { data: number[] }).data).toString('latin1')
      : v,
  );
}

function expectNoCanary(text: string): void {
  expect(text).not.toContain(SSN_CANARY);
  expect(text).not.toContain(CARD);
  expect(text).not.toContain(EMAIL);
}

/** Extended protocol, so that `binary: true` applies (node-postgres sends a query without parameters as a simple Query). */
function extended(c: pg.Client, text: string): Promise<pg.QueryResult> {
  return c.query({ text, queryMode: 'extended' } as pg.QueryConfig);
}

async function failure(c: pg.Client, sql: string): Promise<pg.DatabaseError> {
  const error = await c.query(sql).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, sql).toBeInstanceOf(Error);
  return error as pg.DatabaseError;
}

describe('errors and notices on a connection with column rules', () => {
  it('withholds the check-option "Failing row contains" detail, keeping message and SQLSTATE', async () => {
    const c = await client('pg-test');
    try {
      const error = await failure(c, 'UPDATE positive_customers SET id = -id WHERE id = 1');
      expect(error.code).toBe('44000');
      expect(error.message).toContain('check option');
      expect(error.detail).toMatch(/withheld by Warden/);
      expectNoCanary(seen({ ...error, message: error.message }));
    } finally {
      await c.end();
    }
  });

  it('withholds the not-null violation detail (the row has a masked column the statement never named)', async () => {
    const c = await client('pg-test');
    try {
      const error = await failure(c, 'UPDATE customers SET name = NULL WHERE id = 2');
      expect(error.code).toBe('23502');
      expect(error.detail).toMatch(/withheld by Warden/);
      expectNoCanary(seen({ ...error, message: error.message }));
    } finally {
      await c.end();
    }
  });

  it('withholds detail and hint a trigger RAISEs from a masked column', async () => {
    const c = await client('pg-test');
    const notices: unknown[] = [];
    c.on('notice', (n) => notices.push({ ...n, message: n.message }));
    try {
      await c.query(`UPDATE customers SET name = 'tell' WHERE id = 3`);
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatchObject({ message: 'changed', detail: expect.stringMatching(/withheld by Warden/) });
      expectNoCanary(seen(notices));
    } finally {
      await c.end();
    }
  });
});

describe('binary result formats on a connection with detectors', () => {
  const sql = `SELECT card, email, ARRAY[card, email] AS cards, row(id, card, email) AS r,
      ARRAY[row(card, email)] AS rs, to_jsonb(card) AS j FROM customers WHERE id <= 2 ORDER BY id`;

  it('node-postgres with binary: true (text, arrays, records, arrays of records, jsonb)', async () => {
    const c = await client('pg-detect', true);
    try {
      const result = await extended(c, sql);
      expect(result.rows).toHaveLength(2);
      expect(result.fields.every((f) => f.format === 'binary')).toBe(true);
      const text = seen(result.rows);
      expectNoCanary(text);
      expect(text).toContain(MASKED_CARD);
      expect(result.rows[0].card).toBe(MASKED_CARD);
    } finally {
      await c.end();
    }
  });

  it('postgres.js reading a binary cursor (simple protocol, RowDescription says binary)', async () => {
    const sql2 = postgres(dp.url(undefined, 'pg-detect'), { max: 1, onnotice: () => {} });
    try {
      const results = (await sql2
        .unsafe(`BEGIN; DECLARE c BINARY CURSOR FOR ${sql}; FETCH ALL FROM c; COMMIT`)
        .simple()
        .raw()) as unknown as unknown[][];
      const rows = results.flat().filter((r) => Array.isArray(r));
      expect(rows).toHaveLength(2);
      const text = rows
        .map((r) => (r as (Buffer | null)[]).map((cell) => cell?.toString('latin1')).join('|'))
        .join('\n');
      expectNoCanary(text);
      expect(text).toContain(MASKED_CARD);
    } finally {
      await sql2.end();
    }
  });

  it.each([false, true])('pg_stats.most_common_vals (anyarray), binary: %s', async (binary) => {
    const c = await client('pg-detect', binary);
    try {
      const result = await extended(
        c,
        `SELECT most_common_vals FROM pg_stats WHERE tablename = 'customers' AND attname IN ('card', 'email')`,
      );
      expect(result.rows).toHaveLength(2);
      expect(result.fields[0]!.format).toBe(binary ? 'binary' : 'text');
      const text = seen(result.rows);
      expectNoCanary(text);
      expect(text).toContain(MASKED_CARD);
    } finally {
      await c.end();
    }
  });
});

describe('COPY, settings and notifications on a connection with detectors', () => {
  it('binary COPY never carries a raw card number: refused by policy, or masked by the agent', async () => {
    const out = await dp.psql(
      ['-c', 'COPY (SELECT id, card, row(card, email) FROM customers) TO STDOUT (FORMAT binary)'],
      {
        connection: 'pg-detect',
      },
    );
    expectNoCanary(out.stdout + out.stderr);
    // Policy refuses it on a connection with detectors; the agent's decoder is the second line
    // (packages/masking real-server-side-channels.test.ts runs it on a real binary COPY).
    if (out.code === 0) expect(out.stdout).toContain(MASKED_CARD);
    else expect(out.stderr).toMatch(/ERROR: .*binary/);
  });

  it('text COPY lines are masked', async () => {
    const out = await dp.psql(['-c', 'COPY (SELECT id, card, email FROM customers) TO STDOUT (FORMAT csv)'], {
      connection: 'pg-detect',
    });
    expect(out.code, out.stderr).toBe(0);
    expectNoCanary(out.stdout);
    expect(out.stdout.split('\n').filter(Boolean)).toHaveLength(20);
    expect(out.stdout).toContain(MASKED_CARD);
  });

  it('application_name reported back in ParameterStatus is masked', async () => {
    const sql = postgres(dp.url(undefined, 'pg-detect'), { max: 1, onnotice: () => {} });
    try {
      await sql.unsafe(`SET application_name = 'app ${CARD}'`);
      expect(sql.parameters.application_name).toBe(`app ${MASKED_CARD}`);
    } finally {
      await sql.end();
    }
  });

  it('notification payloads are masked', async () => {
    const c = await client('pg-detect');
    try {
      const received = new Promise<pg.Notification>((resolve) => c.on('notification', resolve));
      await c.query('LISTEN side_channel');
      await c.query(`SELECT pg_notify('side_channel', 'card ' || card) FROM customers WHERE id = 1`);
      const n = await received;
      expect(n.payload).toBe(`card ${MASKED_CARD}`);
    } finally {
      await c.end();
    }
  });
});
