import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';

// psql, node-postgres and postgres.js against the real gateway and agent processes,
// compared with the same statements run directly against the target.
let dp: DataPath;
beforeAll(async () => {
  dp = await startDataPath();
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query(`
    CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), tags text[], data jsonb, raw bytea, at timestamptz);
    INSERT INTO items SELECT g, 'item ' || g, g * 1.5, ARRAY['t' || g, 'x'], jsonb_build_object('n', g), decode(md5(g::text), 'hex'), '2024-01-01'::timestamptz + g * interval '1 hour'
      FROM generate_series(1, 500) g;`);
  await direct.end();
});
afterAll(async () => {
  await dp?.close();
});

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe('Postgres through the gateway', () => {
  it('psql: simple and multi-statement queries match a direct connection', async () => {
    const sql =
      "SELECT id, name, price, tags, data FROM items WHERE id <= 20 ORDER BY id; SELECT count(*) FROM items; SELECT 'done' AS status;";
    const via = await dp.psql(['-A', '-c', sql]);
    const direct = await import('../support/data-path.js').then((m) =>
      m.run('psql', ['-X', '--no-psqlrc', '-A', '-d', dp.directUrl, '-c', sql]),
    );
    expect(via.stderr).toBe('');
    expect(via.code).toBe(0);
    expect(via.stdout).toBe(direct.stdout);
    expect(via.stdout).toContain('500');
  });

  it('node-postgres: extended protocol with parameters, binary results and named statements', async () => {
    const query = {
      name: 'by-range',
      text: 'SELECT id, name, price, raw, at FROM items WHERE id BETWEEN $1 AND $2 ORDER BY id',
      values: [10, 60],
    };
    const expected = await withClient(dp.directUrl, (c) => c.query(query));
    const actual = await withClient(dp.url(), async (c) => {
      const first = await c.query(query);
      const again = await c.query({ ...query, values: [1, 3] }); // reuses the named statement
      expect(again.rows.map((r) => r.id)).toEqual([1, 2, 3]);
      return first;
    });
    expect(actual.rows).toEqual(expected.rows);
    expect(actual.fields.map((f) => f.dataTypeID)).toEqual(expected.fields.map((f) => f.dataTypeID));
    // Parameters and results in binary format: identical to a direct connection.
    const binaryQuery = {
      text: 'SELECT $1::int4 + 1 AS n, $2::bytea AS b, now()::date AS d',
      values: [41, Buffer.from([0, 1, 2, 255])],
      binary: true,
    } as pg.QueryConfig;
    const binaryVia = await withClient(dp.url(), (c) => c.query(binaryQuery));
    const binaryDirect = await withClient(dp.directUrl, (c) => c.query(binaryQuery));
    expect(binaryVia.rows[0].n).toBe(42);
    expect(binaryVia.rows).toEqual(binaryDirect.rows);
  });

  it('postgres.js: pipelined prepared queries and transactions', async () => {
    const sql = postgres(dp.url(), { max: 1, prepare: true, onnotice: () => {} });
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => sql`SELECT id, name FROM items WHERE id = ${i + 1}`),
      );
      expect(results.map((r) => r[0]!.name)).toEqual(Array.from({ length: 50 }, (_, i) => `item ${i + 1}`));
      await sql.begin(async (tx) => {
        await tx`INSERT INTO items (id, name) VALUES (1001, 'tx')`;
        await tx`UPDATE items SET name = 'tx2' WHERE id = 1001`;
      });
      expect((await sql`SELECT name FROM items WHERE id = 1001`)[0]!.name).toBe('tx2');
    } finally {
      await sql.end();
    }
  });

  it('an error mid-pipeline discards until Sync and the session goes on', async () => {
    const sql = postgres(dp.url(), { max: 1, onnotice: () => {} });
    try {
      const outcomes = await Promise.allSettled([sql`SELECT 1 AS a`, sql`SELECT 1/0 AS boom`, sql`SELECT 3 AS c`]);
      expect(outcomes[0].status).toBe('fulfilled');
      expect(outcomes[1].status).toBe('rejected');
      expect((outcomes[1] as PromiseRejectedResult).reason.code).toBe('22012');
      expect(outcomes[2].status).toBe('fulfilled');
      expect((await sql`SELECT 4 AS d`)[0]!.d).toBe(4);
    } finally {
      await sql.end();
    }
  });

  it('COPY in and out', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => `${i}\tline ${i}`).join('\n') + '\n';
    await dp.psql(['-c', 'CREATE TABLE copied (n int, s text)']);
    const copyIn = await dp.psql(['-c', 'COPY copied FROM STDIN'], { input: rows });
    expect(copyIn.stderr).toBe('');
    expect(copyIn.stdout.trim()).toBe('COPY 2000');
    const copyOut = await dp.psql(['-c', 'COPY (SELECT * FROM copied ORDER BY n) TO STDOUT']);
    expect(copyOut.stdout).toBe(rows);
  });

  it('LISTEN/NOTIFY and notices reach the client', async () => {
    await withClient(dp.url(), async (listener) => {
      const notices: string[] = [];
      listener.on('notice', (n) => notices.push(n.message ?? ''));
      const received = new Promise<pg.Notification>((resolve) => listener.on('notification', resolve));
      await listener.query('LISTEN warden_channel');
      await listener.query("DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$");
      expect(notices).toContain('hello from plpgsql');
      await withClient(dp.url(), (notifier) => notifier.query("NOTIFY warden_channel, 'payload-1'"));
      const note = await received;
      expect(note.channel).toBe('warden_channel');
      expect(note.payload).toBe('payload-1');
    });
  });

  it('cancels a running query on the right backend only', async () => {
    const sql = postgres(dp.url(), { max: 1, onnotice: () => {} });
    const bystander = postgres(dp.url(), { max: 1, onnotice: () => {} });
    try {
      const slowBystander = bystander`SELECT pg_sleep(1.5) AS slept, 'ok' AS status`;
      const query = sql`SELECT pg_sleep(30)`;
      const started = Date.now();
      setTimeout(() => query.cancel(), 500);
      await expect(query).rejects.toMatchObject({ code: '57014' });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect((await slowBystander)[0]!.status).toBe('ok');
      expect((await sql`SELECT 1 AS alive`)[0]!.alive).toBe(1);
    } finally {
      await sql.end();
      await bystander.end();
    }
  });

  it('records each session with its identity, connection and counts', async () => {
    await dp.psql(['-c', 'SELECT 1', '-c', 'SELECT 2']);
    await new Promise((r) => setTimeout(r, 300));
    const sessions = await dp.api.db.prisma.session.findMany({
      where: { statementCount: 2 },
      include: { identity: true, connection: true },
    });
    const s = sessions.find((x) => x.clientUser === 'tester');
    expect(s).toBeDefined();
    expect(s!.identity.name).toBe('admin');
    expect(s!.connection.name).toBe('pg-test');
    expect(s!.status).toBe('closed');
    expect(s!.endedAt).not.toBeNull();
    expect(Number(s!.bytesIn)).toBeGreaterThan(0);
    expect(Number(s!.bytesOut)).toBeGreaterThan(0);
  });
});
