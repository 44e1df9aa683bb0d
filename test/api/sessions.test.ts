import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '@warden/db';
import { statementSearch } from '../../apps/api/src/routes/sessions/search.js';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';
import { createConnection, recordSession, signerOf, type Ref, type SessionWriter } from '../support/recordings.js';

let api: TestApi;
let alice: Awaited<ReturnType<typeof createIdentity>>;
let bob: Awaited<ReturnType<typeof createIdentity>>;
let audrey: Awaited<ReturnType<typeof createIdentity>>;
let prod: Ref;
let staging: Ref;
/** s1..s3 ended and sealed, s4 still running; each started an hour after the previous one. */
let s1: SessionWriter, s2: SessionWriter, s3: SessionWriter, s4: SessionWriter;
const T0 = Date.parse('2026-01-10T10:00:00.000Z');
const HOUR = 3_600_000;

beforeAll(async () => {
  api = await startTestApi();
  await api.request('POST', '/api/groups', { body: { name: 'engineering' } });
  await createAgent(api, 'default');
  prod = await createConnection(api, 'pg-prod');
  staging = await createConnection(api, 'pg-staging');
  alice = await createIdentity(api, 'alice', { groups: ['engineering'] });
  bob = await createIdentity(api, 'bob', { groups: ['engineering'] });
  audrey = await createIdentity(api, 'audrey', { role: 'auditor' });
  const { prisma } = api.db;
  const a = { id: alice.id, name: 'alice' };
  const b = { id: bob.id, name: 'bob' };
  s1 = await recordSession(prisma, api.secretBox, {
    identity: a,
    connection: prod,
    startedAt: new Date(T0),
    chunkSize: 3,
    statements: [
      { text: 'SELECT * FROM invoices WHERE customer_id = 42', rows: [['42', 'paid']] },
      { text: "UPDATE accounts SET plan = 'gold' WHERE id = 7" },
      { text: 'SELECT now()' },
      { text: 'SELECT version()' },
    ],
  });
  s2 = await recordSession(prisma, api.secretBox, {
    identity: a,
    connection: staging,
    startedAt: new Date(T0 + HOUR),
    statements: [{ text: 'SELECT count(*) FROM orders' }, { text: 'DROP TABLE orders', blocked: 'no-ddl' }],
  });
  s3 = await recordSession(prisma, api.secretBox, {
    identity: b,
    connection: prod,
    startedAt: new Date(T0 + 2 * HOUR),
    statements: [{ text: 'SELECT salary FROM payroll' }],
  });
  s4 = await recordSession(prisma, api.secretBox, {
    identity: b,
    connection: prod,
    startedAt: new Date(T0 + 3 * HOUR),
    statements: [{ text: 'SELECT 1' }],
    active: true,
  });
});
afterAll(async () => {
  await api?.close();
});

const list = async (query = '', token?: string) => {
  const res = await api.request('GET', `/api/sessions${query}`, token ? { token } : {});
  expect(res.status, res.text).toBe(200);
  return res.body as { items: any[]; nextBefore: string | null };
};
const ids = async (query = '', token?: string) => (await list(query, token)).items.map((s) => s.id);

describe('GET /api/sessions', () => {
  it('lists sessions newest first with who, where, counts and whether they are sealed', async () => {
    const page = await list();
    expect(page.items.map((s) => s.id)).toEqual([s4.id, s3.id, s2.id, s1.id]);
    expect(page.nextBefore).toBeNull();
    const [active, , blocked, first] = page.items;
    expect(first).toEqual({
      id: s1.id,
      identity: { id: alice.id, name: 'alice' },
      connection: { id: prod.id, name: 'pg-prod' },
      protocol: 'postgres',
      status: 'closed',
      clientAddr: '127.0.0.1',
      startedAt: new Date(T0).toISOString(),
      endedAt: expect.stringMatching(/^2026-01-10T10:00:00\.\d{3}Z$/),
      counts: { statements: 4, blocked: 0, reviews: 0, events: s1.events.length, bytesIn: 480, bytesOut: 1920 },
      sealed: true,
    });
    expect(blocked.counts).toMatchObject({ statements: 2, blocked: 1 });
    // A running session has no seal yet; its event count is what is stored so far.
    expect(active).toMatchObject({ status: 'active', endedAt: null, sealed: false });
    expect(active.counts.events).toBe(s4.events.length);
  });

  it('filters by identity and connection (id or name), status, time range and blocked statements', async () => {
    expect(await ids('?identity=alice')).toEqual([s2.id, s1.id]);
    expect(await ids(`?identity=${bob.id}`)).toEqual([s4.id, s3.id]);
    expect(await ids('?connection=pg-staging')).toEqual([s2.id]);
    expect(await ids(`?connection=${prod.id}&identity=bob`)).toEqual([s4.id, s3.id]);
    expect(await ids('?status=active')).toEqual([s4.id]);
    expect(await ids('?status=closed&connection=pg-prod')).toEqual([s3.id, s1.id]);
    expect(await ids('?blocked=true')).toEqual([s2.id]);
    expect(await ids('?blocked=false&identity=alice')).toEqual([s1.id]);
    const from = new Date(T0 + HOUR).toISOString();
    const to = new Date(T0 + 3 * HOUR).toISOString();
    expect(await ids(`?from=${from}&to=${to}`)).toEqual([s3.id, s2.id]);
    // Offsets are honoured: 12:00+02:00 is 10:00Z.
    expect(await ids(`?to=${encodeURIComponent('2026-01-10T12:00:00.001+02:00')}`)).toEqual([s1.id]);
    expect(await ids('?identity=nobody')).toEqual([]);
  });

  it('finds sessions by a word of the statements they ran, and no others', async () => {
    expect(await ids('?q=invoices')).toEqual([s1.id]);
    expect(await ids('?q=payroll')).toEqual([s3.id]);
    // A blocked statement was still run by the session: it is searchable too.
    expect(await ids('?q=orders')).toEqual([s2.id]);
    expect(await ids('?q=accounts%20gold')).toEqual([s1.id]);
    expect(await ids('?q=SELECT')).toEqual([s4.id, s3.id, s2.id, s1.id]);
    expect(await ids('?q=invoices%20payroll')).toEqual([]);
    expect(await ids('?q=nonexistentword')).toEqual([]);
    expect(await ids('?q=select&identity=alice&connection=pg-prod')).toEqual([s1.id]);
    // Punctuation only: no words to look for, no match (never an SQL error).
    expect(await ids(`?q=${encodeURIComponent("'); DROP TABLE x; --")}`)).toEqual([]);
  });

  it('searches through the full-text index', async () => {
    const plan = await api.db.prisma.$transaction(async (tx) => {
      // Tiny tables are cheaper to scan; forbid that to see whether the index can serve the query at all.
      await tx.$executeRaw`SET LOCAL enable_seqscan = off`;
      return tx.$queryRaw<{ 'QUERY PLAN': string }[]>`
        EXPLAIN SELECT s.id FROM "Session" s WHERE ${statementSearch(Prisma.sql`s.id`, 'invoices')}`;
    });
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('RecordingChunk_search_idx');
  });

  it('pages with a cursor', async () => {
    const first = await list('?limit=3');
    expect(first.items.map((s) => s.id)).toEqual([s4.id, s3.id, s2.id]);
    expect(first.nextBefore).toBe(`${new Date(T0 + HOUR).toISOString()}/${s2.id}`);
    const second = await list(`?limit=3&before=${first.nextBefore}`);
    expect(second.items.map((s) => s.id)).toEqual([s1.id]);
    expect(second.nextBefore).toBeNull();
    const filtered = await list('?limit=1&identity=alice');
    expect((await list(`?limit=1&identity=alice&before=${filtered.nextBefore}`)).items[0].id).toBe(s1.id);
  });

  it('rejects bad filters with field details', async () => {
    for (const query of ['?limit=501', '?limit=0', '?before=yesterday', '?from=monday', '?status=sleeping', '?x=1']) {
      const res = await api.request('GET', `/api/sessions${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.details[0].field, query).toMatch(/^querystring/);
    }
  });

  it("shows a user their own sessions only, and auditors everyone's", async () => {
    expect(await ids('', alice.token)).toEqual([s2.id, s1.id]);
    expect(await ids('?identity=bob', alice.token)).toEqual([]);
    expect(await ids('?q=payroll', alice.token)).toEqual([]);
    expect(await ids('', audrey.token)).toEqual([s4.id, s3.id, s2.id, s1.id]);
    expect((await api.request('GET', '/api/sessions', { token: null })).status).toBe(401);
  });
});

describe('GET /api/sessions/:id', () => {
  it('gives the summary with masking counts, end reason and seal', async () => {
    const res = await api.request('GET', `/api/sessions/${s1.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: s1.id,
      identity: { id: alice.id, name: 'alice' },
      connection: { name: 'pg-prod' },
      status: 'closed',
      endReason: 'client terminated',
      maskedCells: {},
      clientTls: false,
      gatewayId: 'gw-test',
      sealed: true,
      seal: {
        finalHash: s1.seal!.finalHash,
        signature: s1.seal!.signature,
        signingKeyId: signerOf(api.secretBox).keyId,
        sealedSeq: s1.events.length,
        sealedAt: expect.any(String),
      },
    });
    const running = await api.request('GET', `/api/sessions/${s4.id}`);
    expect(running.body).toMatchObject({ status: 'active', seal: null, sealed: false, endReason: null });
  });

  it('answers 403 for a session of someone else to a user, 404 for unknown ones', async () => {
    expect((await api.request('GET', `/api/sessions/${s1.id}`, { token: alice.token })).status).toBe(200);
    const other = await api.request('GET', `/api/sessions/${s3.id}`, { token: alice.token });
    expect(other.status).toBe(403);
    for (const path of ['events', 'export', 'transcript', 'verify', 'live']) {
      const res = await api.request('GET', `/api/sessions/${s3.id}/${path}`, { token: alice.token });
      expect(res.status, path).toBe(403);
    }
    expect((await api.request('GET', `/api/sessions/${s3.id}`, { token: audrey.token })).status).toBe(200);
    expect((await api.request('GET', '/api/sessions/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await api.request('GET', '/api/sessions/not-a-session/events')).status).toBe(404);
  });
});

describe('GET /api/sessions/:id/events', () => {
  it('pages through the events in seq order, exactly as recorded', async () => {
    const got: any[] = [];
    let after = 0;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(10);
      const res = await api.request('GET', `/api/sessions/${s1.id}/events?after=${after}&limit=4`);
      expect(res.status).toBe(200);
      got.push(...res.body.events);
      if (res.body.nextAfter === null) break;
      expect(res.body.events).toHaveLength(4);
      after = res.body.nextAfter;
    }
    expect(got).toEqual(s1.events);
    expect(got[0].t).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const all = await api.request('GET', `/api/sessions/${s1.id}/events`);
    expect(all.body).toEqual({ events: s1.events, nextAfter: null });
    const tail = await api.request('GET', `/api/sessions/${s1.id}/events?after=${s1.events.length - 1}`);
    expect(tail.body).toEqual({ events: [s1.events.at(-1)], nextAfter: null });
    expect((await api.request('GET', `/api/sessions/${s1.id}/events?limit=5001`)).status).toBe(400);
  });
});

describe('GET /api/recording-keys', () => {
  it('lists the public keys that seal recordings, to any authenticated caller', async () => {
    const signer = signerOf(api.secretBox);
    const res = await api.request('GET', '/api/recording-keys', { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([{ id: signer.keyId, publicKey: signer.publicKeyPem, createdAt: expect.any(String) }]);
    expect(res.body[0].publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect((await api.request('GET', '/api/recording-keys', { token: null })).status).toBe(401);
  });
});

describe('reading recordings is audited', () => {
  it('records who read which session, once per reading', async () => {
    const before = await api.request('GET', `/api/audit?targetId=${s2.id}`);
    expect(before.body.total).toBe(0);
    await api.request('GET', `/api/sessions/${s2.id}`, { token: alice.token });
    await api.request('GET', `/api/sessions/${s2.id}/events?limit=2`, { token: alice.token });
    // Later pages continue the same reading.
    await api.request('GET', `/api/sessions/${s2.id}/events?after=2&limit=2`, { token: alice.token });
    await api.request('GET', `/api/sessions/${s2.id}/verify`, { token: audrey.token });
    // Listing and refused reads are not readings of a recording.
    await api.request('GET', '/api/sessions', { token: alice.token });
    const res = await api.request('GET', `/api/audit?targetId=${s2.id}`);
    expect(res.body.items.map((e: any) => [e.action, e.actor.name])).toEqual([
      ['session.verify', 'audrey'],
      ['session.read', 'alice'],
      ['session.read', 'alice'],
    ]);
    expect(res.body.items[2]).toMatchObject({
      target: { type: 'session', id: s2.id, name: 'alice@pg-staging' },
      details: { identity: 'alice', connection: 'pg-staging', view: 'summary' },
    });
    expect(res.body.items[1].details.view).toBe('events');
    expect(res.body.items[0].details).toMatchObject({ ok: true, chain: 'intact', seal: 'valid' });
  });
});

describe('OpenAPI', () => {
  it('documents the session routes', async () => {
    const res = await api.request('GET', '/api/openapi.json', { token: null });
    const paths = res.body.paths;
    for (const path of [
      '/api/sessions',
      '/api/sessions/{id}',
      '/api/sessions/{id}/events',
      '/api/sessions/{id}/export',
      '/api/sessions/{id}/transcript',
      '/api/sessions/{id}/verify',
      '/api/sessions/{id}/live',
      '/api/recording-keys',
    ]) {
      expect(Object.keys(paths[path] ?? {}), path).toEqual(['get']);
    }
    expect(Object.keys(paths['/api/sessions/purge'])).toEqual(['post']);
    expect(paths['/api/sessions'].get.parameters.map((p: any) => p.name)).toEqual(
      expect.arrayContaining(['identity', 'connection', 'from', 'to', 'status', 'blocked', 'q', 'limit', 'before']),
    );
    expect(Object.keys(paths['/api/sessions/{id}/export'].get.responses['200'].content)).toEqual([
      'application/x-ndjson',
    ]);
  });
});
