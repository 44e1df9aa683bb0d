import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createIdentity } from '../support/api.js';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { decodeError, login, query, typed, type BackendMessage, type WireClient } from '../support/wire.js';

// max_rows_affected enforced end to end: the real gateway process runs each limited write so that
// its row count is read before anything can commit, and refuses (42501 naming the rule) writes
// above the limit, whatever their WHERE clause says. Row counts are checked in the target itself.
let dp: DataPath;
let approver: { token: string };
const ROWS = 5000;
const LIMIT = 100;
const RULE = 'max-100';
const overLimit = `max_rows_affected rule "${RULE}": ${ROWS} rows would be affected, the limit is ${LIMIT}; nothing was changed`;

async function direct<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: dp.directUrl });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

/** Rows of t whose x is not 0: what writes through the gateway changed. */
async function changed(): Promise<number> {
  const [row] = await direct<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE x <> 0');
  return row!.n;
}

beforeAll(async () => {
  dp = await startDataPath();
  await direct(`CREATE TABLE t (id int PRIMARY KEY, x int NOT NULL DEFAULT 0)`);
  await direct(`CREATE TABLE small (id int PRIMARY KEY, x int NOT NULL DEFAULT 0)`);
  await direct(`CREATE TABLE notes (id serial PRIMARY KEY, what text)`);
  await direct(`CREATE TABLE reviewed (id int PRIMARY KEY)`);
  const policy = await dp.api.request('POST', '/api/policies', {
    body: {
      name: 'row-limits',
      kind: 'guardrail',
      rules: { guardrails: [{ type: 'max_rows_affected', name: RULE, limit: LIMIT }] },
    },
  });
  expect(policy.status, policy.text).toBe(201);
  expect((await dp.api.request('POST', '/api/groups', { body: { name: 'dba' } })).status).toBe(201);
  approver = await createIdentity(dp.api, 'dana', { role: 'user', groups: ['dba'] });
  const review = await dp.api.request('POST', '/api/policies', {
    body: {
      name: 'review-reviewed',
      kind: 'review',
      rules: {
        reviews: [
          { type: 'require_review', name: 'reviewed', match: { tables: ['reviewed'] }, approverGroups: ['dba'] },
        ],
      },
    },
  });
  expect(review.status, review.text).toBe(201);
  const attached = await dp.api.request('PATCH', '/api/connections/pg-test', {
    body: { policies: ['row-limits', 'review-reviewed'] },
  });
  expect(attached.status, attached.text).toBe(200);
}, 120_000);

afterAll(async () => {
  await dp?.close();
});

beforeEach(async () => {
  await direct(`TRUNCATE t, small, notes, reviewed`);
  await direct(`INSERT INTO reviewed SELECT g FROM generate_series(1, ${ROWS}) g`);
  await direct(`INSERT INTO t (id) SELECT g FROM generate_series(1, ${ROWS}) g`);
  await direct(`INSERT INTO small (id) SELECT g FROM generate_series(1, 3) g`);
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: dp.url() });
  await c.connect();
  return c;
}

async function failure(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e as { code?: string; message: string },
  );
  expect(error, 'the statement should have failed').not.toBeNull();
  return error!;
}

describe('psql (simple protocol)', () => {
  it('refuses a write above the limit whatever its WHERE clause says, and changes nothing', async () => {
    const out = await dp.psql(['-c', 'UPDATE t SET x = x + 1 WHERE id = id']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain(overLimit);
    expect(await changed()).toBe(0);
  });

  it('commits a write at or under the limit', async () => {
    const out = await dp.psql(['-c', `UPDATE t SET x = 1 WHERE id <= ${LIMIT}`]);
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe(`UPDATE ${LIMIT}`);
    expect(await changed()).toBe(LIMIT);
  });

  it('refuses MERGE ... ON true over the limit, and commits one under it', async () => {
    const over = await dp.psql(['-c', 'MERGE INTO t USING (SELECT 1) s ON true WHEN MATCHED THEN UPDATE SET x = 1']);
    expect(over.stderr).toContain(overLimit);
    expect(await changed()).toBe(0);
    const under = await dp.psql([
      '-c',
      'MERGE INTO small USING (SELECT 1) s ON true WHEN MATCHED THEN UPDATE SET x = 1',
    ]);
    expect(under.stderr).toBe('');
    expect(under.stdout.trim()).toBe('MERGE 3');
    const [row] = await direct<{ n: number }>('SELECT count(*)::int AS n FROM small WHERE x = 1');
    expect(row!.n).toBe(3);
  });
});

describe('node-postgres', () => {
  it('simple protocol: refused over the limit, committed under it, the connection goes on', async () => {
    const c = await client();
    try {
      const error = await failure(c.query('DELETE FROM t WHERE x IS NOT NULL'));
      expect(error.code).toBe('42501');
      expect(error.message).toBe(overLimit);
      expect((await c.query('UPDATE t SET x = 2 WHERE id <= 7')).rowCount).toBe(7);
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
    const [row] = await direct<{ n: number }>('SELECT count(*)::int AS n FROM t');
    expect(row!.n).toBe(ROWS);
    expect(await changed()).toBe(7);
  });

  it('extended protocol: the same, with parameters', async () => {
    const c = await client();
    try {
      const error = await failure(c.query('UPDATE t SET x = $1 WHERE id <= $2', [1, ROWS]));
      expect(error.code).toBe('42501');
      expect(error.message).toBe(overLimit);
      expect((await c.query('UPDATE t SET x = $1 WHERE id <= $2', [1, 9])).rowCount).toBe(9);
      // A prepared (named) statement runs under the same limit at each Execute.
      const named = { name: 'bump', text: 'UPDATE t SET x = x + 1 WHERE id <= $1' };
      expect((await c.query({ ...named, values: [3] })).rowCount).toBe(3);
      expect((await failure(c.query({ ...named, values: [ROWS] }))).code).toBe('42501');
    } finally {
      await c.end();
    }
    expect(await changed()).toBe(9);
  });

  it.each([
    ['simple', (c: pg.Client) => c.query('UPDATE t SET x = 3 WHERE id = id')],
    ['extended', (c: pg.Client) => c.query('UPDATE t SET x = $1 WHERE id = id', [3])],
  ])('inside BEGIN (%s): the refusal aborts the transaction, and ROLLBACK undoes the earlier work', async (_, over) => {
    const c = await client();
    try {
      await c.query('BEGIN');
      await c.query(`INSERT INTO notes (what) VALUES ('earlier work')`);
      expect((await c.query('UPDATE t SET x = 1 WHERE id <= 5')).rowCount).toBe(5);
      const error = await failure(over(c));
      expect(error.code).toBe('42501');
      expect(error.message).toBe(overLimit);
      const aborted = await failure(c.query('SELECT 1'));
      expect(aborted.code).toBe('25P02');
      await c.query('ROLLBACK');
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await c.end();
    }
    expect(await changed()).toBe(0);
    expect(await direct('SELECT * FROM notes')).toEqual([]);
  });

  it('inside BEGIN: a write under the limit is part of the transaction the client commits', async () => {
    const c = await client();
    try {
      await c.query('BEGIN');
      expect((await c.query('UPDATE t SET x = 4 WHERE id <= 10')).rowCount).toBe(10);
      expect((await c.query('UPDATE t SET x = 5 WHERE id <= $1', [20])).rowCount).toBe(20);
      await c.query('COMMIT');
    } finally {
      await c.end();
    }
    expect(await changed()).toBe(20);
  });

  it('DELETE ... RETURNING under the limit returns its rows', async () => {
    const c = await client();
    try {
      const result = await c.query('DELETE FROM t WHERE id > $1 RETURNING id', [ROWS - 3]);
      expect(result.rows.map((r: { id: number }) => r.id).sort((a, b) => a - b)).toEqual([4998, 4999, 5000]);
      const simple = await c.query(`DELETE FROM t WHERE id > ${ROWS - 5} RETURNING id`);
      expect(simple.rowCount).toBe(2);
    } finally {
      await c.end();
    }
    const [row] = await direct<{ n: number }>('SELECT count(*)::int AS n FROM t');
    expect(row!.n).toBe(ROWS - 5);
  });
});

describe('statements held for review', () => {
  async function approveWhenPending(statement: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const row = await dp.api.db.prisma.review.findFirst({ where: { statement, status: 'pending' } });
      if (row) {
        const ok = await dp.api.request('POST', `/api/reviews/${row.id}/approve`, { token: approver.token, body: {} });
        expect(ok.status, ok.text).toBe(200);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no pending review for ${statement}`);
  }

  async function remaining(): Promise<number> {
    const [row] = await direct<{ n: number }>('SELECT count(*)::int AS n FROM reviewed');
    return row!.n;
  }

  it('an approved write still runs under its row limit (simple and extended protocol)', async () => {
    const c = await client();
    c.on('notice', () => {});
    try {
      const over = 'DELETE FROM reviewed WHERE id = id';
      const refused = failure(c.query(over));
      await approveWhenPending(over);
      expect(await refused).toMatchObject({ code: '42501', message: overLimit });
      expect(await remaining()).toBe(ROWS);

      const under = 'DELETE FROM reviewed WHERE id <= $1';
      const kept = c.query(under, [3]);
      await approveWhenPending(under);
      expect((await kept).rowCount).toBe(3);
    } finally {
      await c.end();
    }
    expect(await remaining()).toBe(ROWS - 3);
  });
});

describe('postgres.js (extended protocol, pipelined)', () => {
  it('refuses the over-limit write of a pipeline and runs the others', async () => {
    const sql = postgres(dp.url(), { max: 1, onnotice: () => {} });
    try {
      const [first, over, after] = await Promise.allSettled([
        sql`UPDATE t SET x = 6 WHERE id = ${1}`,
        sql`UPDATE t SET x = 6 WHERE id = id`,
        sql`UPDATE t SET x = 6 WHERE id = ${2} RETURNING id`,
      ]);
      expect(first.status).toBe('fulfilled');
      expect(over.status).toBe('rejected');
      expect((over as PromiseRejectedResult).reason).toMatchObject({ code: '42501', message: overLimit });
      expect(after.status).toBe('fulfilled');
      expect([...(after as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value]).toEqual([{ id: 2 }]);
      const [{ n }] = await sql<[{ n: number }]>`SELECT count(*)::int AS n FROM t WHERE x = 6`;
      expect(n).toBe(2);
    } finally {
      await sql.end();
    }
    expect(await changed()).toBe(2);
  });

  it('refuses MERGE ... ON true over the limit inside a transaction, and nothing commits', async () => {
    const sql = postgres(dp.url(), { max: 1, onnotice: () => {} });
    try {
      const error = await sql
        .begin(async (tx) => {
          await tx`UPDATE t SET x = 7 WHERE id = ${1}`;
          await tx`MERGE INTO t USING (SELECT ${1}::int AS one) s ON true WHEN MATCHED THEN UPDATE SET x = 7`;
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(error).toMatchObject({ code: '42501', message: overLimit });
    } finally {
      await sql.end();
    }
    expect(await changed()).toBe(0);
  });
});

describe('raw protocol', () => {
  const parse = (name: string, sql: string) => typed('P', Buffer.concat([cstr(name), cstr(sql), int16(0)]));
  const bind = (portal: string, statement: string) =>
    typed('B', Buffer.concat([cstr(portal), cstr(statement), int16(0), int16(0), int16(0)]));
  const describePortal = (portal: string) => typed('D', Buffer.concat([Buffer.from('P'), cstr(portal)]));
  const execute = (portal: string, rows = 0) => typed('E', Buffer.concat([cstr(portal), int32(rows)]));
  const sync = () => typed('S', Buffer.alloc(0));

  async function session(): Promise<WireClient> {
    return (await login(dp.pgPort, dp.adminKey, 'pg-test')).client;
  }

  /** Messages up to and including the next ReadyForQuery. */
  async function untilReady(c: WireClient): Promise<BackendMessage[]> {
    const { message, seen } = await c.until('Z', 15_000);
    return [...seen, message!];
  }

  const types = (messages: BackendMessage[]) => messages.map((m) => m.type).join('');

  it('DELETE ... RETURNING over the limit sends no row: only the error and ReadyForQuery', async () => {
    const c = await session();
    try {
      c.write(query('DELETE FROM t WHERE id = id RETURNING id'));
      const answer = await untilReady(c);
      expect(types(answer)).toBe('EZ');
      expect(decodeError(answer[0]!.body)).toMatchObject({ code: '42501', message: overLimit });
      expect(answer[1]!.body.toString()).toBe('I');

      c.write(
        Buffer.concat([
          parse('', 'DELETE FROM t WHERE x = 0 RETURNING id'),
          bind('', ''),
          describePortal(''),
          execute(''),
          sync(),
        ]),
      );
      const extended = await untilReady(c);
      expect(types(extended)).toBe('12TEZ');
      expect(decodeError(extended[3]!.body).code).toBe('42501');
    } finally {
      c.destroy();
    }
    const [row] = await direct<{ n: number }>('SELECT count(*)::int AS n FROM t');
    expect(row!.n).toBe(ROWS);
  });

  it('a simple query under the limit is answered exactly as without Warden', async () => {
    const c = await session();
    try {
      c.write(query('UPDATE small SET x = 1 WHERE id <= 2 RETURNING id'));
      const answer = await untilReady(c);
      expect(types(answer)).toBe('TDDCZ');
      expect(answer[3]!.body.toString('utf8', 0, answer[3]!.body.length - 1)).toBe('UPDATE 2');
      c.write(query('UPDATE small SET x = 1 WHERE id = 3'));
      expect(types(await untilReady(c))).toBe('CZ');
    } finally {
      c.destroy();
    }
    const [row] = await direct<{ n: number }>('SELECT count(*)::int AS n FROM small WHERE x = 1');
    expect(row!.n).toBe(3);
  });

  it('one pipeline: the over-limit Execute rolls back the Executes before it, as an error would', async () => {
    const c = await session();
    try {
      c.write(
        Buffer.concat([
          parse('', `INSERT INTO notes (what) VALUES ('in the pipeline')`),
          bind('', ''),
          execute(''),
          parse('', 'UPDATE t SET x = 8 WHERE id = id'),
          bind('', ''),
          execute(''),
          parse('', `INSERT INTO notes (what) VALUES ('after')`),
          bind('', ''),
          execute(''),
          sync(),
        ]),
      );
      const answer = await untilReady(c);
      expect(types(answer)).toBe('12C12EZ');
      expect(decodeError(answer[5]!.body)).toMatchObject({ code: '42501', message: overLimit });
      expect(answer[6]!.body.toString()).toBe('I');
      // Pipelined after the failed unit: a unit that stays under the limit.
      c.write(
        Buffer.concat([
          parse('', 'UPDATE t SET x = 8 WHERE id <= 4'),
          bind('', ''),
          execute(''),
          sync(),
          query('SELECT 1'),
        ]),
      );
      expect(types(await untilReady(c))).toBe('12CZ');
      expect(types(await untilReady(c))).toBe('TDCZ');
    } finally {
      c.destroy();
    }
    expect(await direct('SELECT * FROM notes')).toEqual([]);
    expect(await changed()).toBe(4);
  });

  it('refuses a limited Execute with a row count (a cursor), which cannot report the count', async () => {
    const c = await session();
    try {
      c.write(
        Buffer.concat([
          parse('', 'UPDATE t SET x = 9 WHERE id <= 2 RETURNING id'),
          bind('', ''),
          execute('', 1),
          sync(),
        ]),
      );
      const answer = await untilReady(c);
      expect(types(answer)).toBe('12EZ');
      expect(decodeError(answer[2]!.body).message).toContain('without a row count');
    } finally {
      c.destroy();
    }
    expect(await changed()).toBe(0);
  });
});

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}
function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}
function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}
