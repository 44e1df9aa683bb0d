import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../support/api.js';
import { startDataPath, type DataPath } from '../support/data-path.js';

// Just-in-time approval and containment across two gateway replicas sharing the
// control plane and Redis: clients on replica A (or B), decisions through the API.
let dp: DataPath;
let approver: { id: string; token: string };
let colleague: { id: string; token: string };

beforeAll(async () => {
  dp = await startDataPath({ redisPrefix: `warden-test-${randomBytes(4).toString('hex')}`, replica: true });
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query('CREATE TABLE items (id int PRIMARY KEY, name text)');
  await direct.query("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g");
  await direct.end();
  for (const name of ['dba', 'ops'])
    expect((await dp.api.request('POST', '/api/groups', { body: { name } })).status).toBe(201);
  approver = await createIdentity(dp.api, 'dana', { role: 'user', groups: ['dba'] });
  colleague = await createIdentity(dp.api, 'carl', { role: 'user', groups: ['ops'] });
  const policy = await dp.api.request('POST', '/api/policies', {
    body: {
      name: 'review-deletes',
      kind: 'review',
      rules: {
        reviews: [
          {
            type: 'require_review',
            name: 'deletes',
            match: { kinds: ['delete'] },
            approverGroups: ['dba'],
            timeoutSeconds: 10,
          },
        ],
      },
    },
  });
  expect(policy.status, policy.text).toBe(201);
  const attached = await dp.api.request('PATCH', '/api/connections/pg-test', {
    body: { policies: ['review-deletes'] },
  });
  expect(attached.status, attached.text).toBe(200);
}, 120_000);

afterAll(async () => {
  await dp?.close();
});

/** A client on the given replica; its notices are collected (the review link arrives as one). */
async function client(url: string) {
  const notices: { message?: string; hint?: string }[] = [];
  // The agent dials each replica; after a (re)start it may need a moment to be there.
  for (let attempt = 0; ; attempt++) {
    const c = new pg.Client({ connectionString: url });
    c.on('notice', (n) => notices.push(n));
    c.on('error', () => {});
    try {
      await c.connect();
      return { c, notices };
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function pendingReview(statement: string) {
  for (let i = 0; i < 100; i++) {
    const row = await dp.api.db.prisma.review.findFirst({ where: { statement, status: 'pending' } });
    if (row) return row;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no pending review for ${statement}`);
}

async function count(where: string): Promise<number> {
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  const { rows } = await direct.query(`SELECT count(*)::int AS n FROM items WHERE ${where}`);
  await direct.end();
  return rows[0].n;
}

describe('just-in-time approval across replicas', () => {
  it('holds a DELETE on replica A until it is approved through the API, then runs it', async () => {
    const { c, notices } = await client(dp.url());
    const sql = 'DELETE FROM items WHERE id = 1';
    const running = c.query(sql);
    const review = await pendingReview(sql);
    await expect.poll(() => notices.length).toBe(1);
    expect(notices[0]!.message).toContain(review.id);
    expect(notices[0]!.hint).toContain(`/reviews/${review.id}`);
    expect(await count('id = 1')).toBe(1); // nothing ran yet

    const own = await dp.api.request('POST', `/api/reviews/${review.id}/approve`, { body: { comment: 'me' } });
    expect(own.status).toBe(403); // the requester (the admin key) cannot approve their own review
    const ok = await dp.api.request('POST', `/api/reviews/${review.id}/approve`, {
      token: approver.token,
      body: { comment: 'ticket 7' },
    });
    expect(ok.status, ok.text).toBe(200);
    const result = await running;
    expect(result.rowCount).toBe(1);
    expect(await count('id = 1')).toBe(0);
    // The session goes on normally afterwards.
    expect((await c.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(19);
    await c.end();
  });

  it('answers 42501 naming the decision when denied, on replica B', async () => {
    const { c } = await client(dp.replica!.url());
    const sql = 'DELETE FROM items WHERE id = 2';
    const running = c.query(sql).catch((e: unknown) => e);
    const review = await pendingReview(sql);
    const denied = await dp.api.request('POST', `/api/reviews/${review.id}/deny`, {
      token: approver.token,
      body: { comment: 'not during the freeze' },
    });
    expect(denied.status, denied.text).toBe(200);
    const error = (await running) as { code?: string; message: string };
    expect(error.code).toBe('42501');
    expect(error.message).toContain('denied by dana: not during the freeze');
    expect(await count('id = 2')).toBe(1);
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    await c.end();
  });

  it('binds an approval to the exact statement: one character more needs its own review', async () => {
    const { c } = await client(dp.url());
    const first = c.query('DELETE FROM items WHERE id = 3');
    const review = await pendingReview('DELETE FROM items WHERE id = 3');
    await dp.api.request('POST', `/api/reviews/${review.id}/approve`, { token: approver.token, body: {} });
    await first;
    const second = c.query('DELETE FROM items WHERE id = 13').catch((e: unknown) => e);
    const next = await pendingReview('DELETE FROM items WHERE id = 13');
    expect(next.id).not.toBe(review.id);
    expect(next.statementHash).not.toBe(review.statementHash);
    expect(await count('id = 13')).toBe(1);
    await dp.api.request('POST', `/api/reviews/${next.id}/deny`, { token: approver.token, body: {} });
    expect(await second).toMatchObject({ code: '42501' });
    await c.end();
  });

  it('holds extended-protocol statements with their parameters; an ineligible approver is refused', async () => {
    const { c } = await client(dp.url());
    const running = c.query('DELETE FROM items WHERE id = $1', [4]);
    const review = await pendingReview('DELETE FROM items WHERE id = $1');
    expect(review.parameters).toEqual(['4']);
    const wrongGroup = await dp.api.request('POST', `/api/reviews/${review.id}/approve`, {
      token: colleague.token,
      body: {},
    });
    expect(wrongGroup.status).toBe(403);
    await dp.api.request('POST', `/api/reviews/${review.id}/approve`, { token: approver.token, body: {} });
    expect((await running).rowCount).toBe(1);
    expect(await count('id = 4')).toBe(0);
    await c.end();
  });

  it('a replica stopping while a statement waits answers the client and marks the review cancelled', async () => {
    const { c } = await client(dp.url());
    const running = c.query('DELETE FROM items WHERE id = 6').catch((e: unknown) => e);
    const review = await pendingReview('DELETE FROM items WHERE id = 6');
    await dp.gateway.stop(); // SIGTERM
    const error = (await running) as { code?: string };
    expect(error.code).toMatch(/^(57P01|08006)$/);
    const after = await dp.api.db.prisma.review.findUniqueOrThrow({ where: { id: review.id } });
    expect(after.status).toBe('cancelled');
    expect(await count('id = 6')).toBe(1);
    await dp.startGateway();
  }, 60_000);

  it('times out with 42501 when nobody decides', async () => {
    const { c } = await client(dp.url());
    const started = Date.now();
    const error = (await c.query('DELETE FROM items WHERE id = 5').catch((e: unknown) => e)) as {
      code?: string;
      message: string;
    };
    expect(error.code).toBe('42501');
    expect(error.message).toMatch(/expired/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
    expect(await count('id = 5')).toBe(1);
    await c.end();
  }, 30_000);
});

describe('containment across replicas', () => {
  it('blocking an identity through the API ends its sessions on both replicas within a second', async () => {
    const eve = await createIdentity(dp.api, 'eve', { role: 'admin' });
    const onA = await client(dp.url(eve.token));
    const onB = await client(dp.replica!.url(eve.token));
    const ended = [onA.c, onB.c].map(
      (c) => new Promise<{ code?: string }>((resolve) => c.on('error', (e) => resolve(e as { code?: string }))),
    );
    const started = Date.now();
    const blocked = await dp.api.request('POST', `/api/identities/${eve.id}/block`, {
      body: { reason: 'stolen token' },
    });
    expect(blocked.status, blocked.text).toBe(200);
    const errors = await Promise.all(ended);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(errors.map((e) => e.code)).toEqual(['57P01', '57P01']);
    // New connections are refused too: a blocked identity's token no longer authenticates.
    const again = new pg.Client({ connectionString: dp.url(eve.token) });
    await expect(again.connect()).rejects.toMatchObject({ code: '28P01' });
  });

  it('an expired access window closes the session it opened', async () => {
    const connection = await dp.api.db.prisma.connection.findUniqueOrThrow({ where: { name: 'pg-test' } });
    await dp.api.db.prisma.connection.update({
      where: { id: connection.id },
      data: { options: { access: { requireGrant: true } } },
    });
    try {
      const gina = await createIdentity(dp.api, 'gina', { role: 'admin' });
      const refused = new pg.Client({ connectionString: dp.url(gina.token) });
      await expect(refused.connect()).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining('needs approved, time-boxed access'),
        hint: expect.stringContaining('POST /api/access-requests'),
      });
      await dp.api.db.prisma.accessGrant.create({
        data: {
          identityId: gina.id,
          connectionId: connection.id,
          startsAt: new Date(),
          endsAt: new Date(Date.now() + 2_000),
        },
      });
      const { c } = await client(dp.url(gina.token));
      const ended = new Promise<{ code?: string; message: string }>((resolve) =>
        c.on('error', (e) => resolve(e as { code?: string; message: string })),
      );
      expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      const error = await ended;
      expect(error.code).toBe('57P01');
      expect(error.message).toContain('access window');
    } finally {
      await dp.api.db.prisma.connection.update({ where: { id: connection.id }, data: { options: {} } });
    }
  });
});
