import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi } from '@warden/api';
import { createLogger, loadConfig } from '@warden/runtime';
import { createBackgroundJobs, InProcessJobs, type BackgroundJobs } from '../../apps/api/src/jobs/background-jobs.js';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';
import { createConnection, recordSession, type Ref } from '../support/recordings.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const DAY = 24 * 3_600_000;
const silent = { info() {}, warn() {}, error() {} };

let api: TestApi;
let alice: Ref;
let short: Ref;
let forever: Ref;
/** Redis key prefixes this file used, removed at the end. */
const prefixes: string[] = [];

beforeAll(async () => {
  api = await startTestApi();
  await api.request('POST', '/api/groups', { body: { name: 'engineering' } });
  await createAgent(api, 'default');
  short = await createConnection(api, 'pg-short', { recording: { retentionDays: 30 } });
  forever = await createConnection(api, 'pg-forever', { recording: { maxRows: 10 } });
  const identity = await createIdentity(api, 'alice', { groups: ['engineering'] });
  alice = { id: identity.id, name: 'alice' };
});
afterAll(async () => {
  await api?.close();
  for (const prefix of prefixes) await deleteRedisKeys(`${prefix}:*`);
});

/** Deletes keys matching `pattern` with one EVAL over a bare socket (the test package has no Redis client). */
async function deleteRedisKeys(pattern: string): Promise<void> {
  const script = "for _,k in ipairs(redis.call('keys', ARGV[1])) do redis.call('del', k) end return 1";
  const args = ['EVAL', script, '0', pattern];
  const command = `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(6379, '127.0.0.1', () => socket.write(command));
    socket.once('data', () => {
      socket.end();
      resolve();
    });
    socket.once('error', reject);
  });
}

function uniquePrefix(): string {
  const prefix = `warden-test-${randomUUID().slice(0, 8)}`;
  prefixes.push(prefix);
  return prefix;
}

/** A session on `connection` that ended `endedDaysAgo` days ago (or is still running when null). */
async function sessionEnded(connection: Ref, endedDaysAgo: number | null) {
  const startedAt = new Date(Date.now() - ((endedDaysAgo ?? 60) + 1) * DAY);
  return recordSession(api.db.prisma, api.secretBox, {
    identity: alice,
    connection,
    startedAt,
    statements: [{ text: 'SELECT * FROM customers' }, { text: 'SELECT 2' }],
    ...(endedDaysAgo === null ? { active: true } : { endedAt: new Date(Date.now() - endedDaysAgo * DAY) }),
  });
}

async function exists(sessionId: string) {
  const { prisma } = api.db;
  const [session, chunks] = await Promise.all([
    prisma.session.count({ where: { id: sessionId } }),
    prisma.recordingChunk.count({ where: { sessionId } }),
  ]);
  return { session: session === 1, chunks };
}

describe('options.recording on connections', () => {
  it('rejects invalid settings with a 400 per field', async () => {
    const res = await api.request('POST', '/api/connections', {
      body: {
        name: 'pg-bad',
        type: 'postgres',
        agent: 'default',
        config: { host: 'db', database: 'app', user: 'app' },
        options: { recording: { enabled: 'sometimes', maxRows: -1, maxBytes: 1.5, retentionDays: 0, keep: true } },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d: any) => d.field).sort()).toEqual([
      'body.options.recording.enabled',
      'body.options.recording.keep',
      'body.options.recording.maxBytes',
      'body.options.recording.maxRows',
      'body.options.recording.retentionDays',
    ]);
    const tooMany = await api.request('PATCH', '/api/connections/pg-short', {
      body: { options: { recording: { maxRows: 100_001, retentionDays: 36_501 } } },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.details.map((d: any) => d.field).sort()).toEqual([
      'body.options.recording.maxRows',
      'body.options.recording.retentionDays',
    ]);
    const notObject = await api.request('PATCH', '/api/connections/pg-short', { body: { options: { recording: 5 } } });
    expect(notObject.status).toBe(400);
    expect(notObject.body.details[0].field).toMatch(/^body\.options\.recording/);
  });

  it('validates options.access (time-boxed grants required) the same way', async () => {
    const bad = await api.request('PATCH', '/api/connections/pg-short', {
      body: { options: { access: { requireGrant: 'yes', extra: 1 } } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: any) => d.field).sort()).toEqual([
      'body.options.access.extra',
      'body.options.access.requireGrant',
    ]);
    const ok = await api.request('PATCH', '/api/connections/pg-short', {
      body: { options: { access: { requireGrant: true } } },
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.options.access).toEqual({ requireGrant: true });
    const cleared = await api.request('PATCH', '/api/connections/pg-short', { body: { options: { access: null } } });
    expect(cleared.body.options.access).toBeUndefined();
  });

  it('stores valid settings, merges other options and clears recording with null', async () => {
    const created = await api.request('POST', '/api/connections', {
      body: {
        name: 'pg-opts',
        type: 'postgres',
        agent: 'default',
        config: { host: 'db', database: 'app', user: 'app' },
        options: { recording: { enabled: false, maxRows: 0, maxBytes: 0, retentionDays: 1 }, other: 'kept' },
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body.options).toEqual({
      recording: { enabled: false, maxRows: 0, maxBytes: 0, retentionDays: 1 },
      other: 'kept',
    });
    const patched = await api.request('PATCH', '/api/connections/pg-opts', {
      body: { options: { recording: { retentionDays: 36_500 } } },
    });
    expect(patched.body.options).toEqual({ recording: { retentionDays: 36_500 }, other: 'kept' });
    const cleared = await api.request('PATCH', '/api/connections/pg-opts', { body: { options: { recording: null } } });
    expect(cleared.body.options).toEqual({ other: 'kept' });
    expect((await api.request('DELETE', '/api/connections/pg-opts')).status).toBe(204);
  });
});

describe('POST /api/sessions/purge', () => {
  it('deletes only recordings that ended before the retention, and audits it', async () => {
    const expired = await sessionEnded(short, 40);
    const recent = await sessionEnded(short, 5);
    const running = await sessionEnded(short, null);
    const keptForever = await sessionEnded(forever, 400);
    const review = await api.db.prisma.review.create({
      data: {
        kind: 'statement',
        requesterId: alice.id,
        connectionId: short.id,
        sessionId: expired.id,
        statement: 'DELETE FROM customers',
        expiresAt: new Date(Date.now() - 39 * DAY),
      },
    });
    const auditor = await createIdentity(api, 'audrey', { role: 'auditor' });
    expect((await api.request('POST', '/api/sessions/purge', { token: auditor.token })).status).toBe(403);

    const res = await api.request('POST', '/api/sessions/purge');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      sessions: 1,
      events: expired.events.length,
      reviewsUnlinked: 1,
      connections: [
        {
          id: short.id,
          name: 'pg-short',
          retentionDays: 30,
          cutoff: expect.any(String),
          sessions: 1,
          events: expired.events.length,
          reviewsUnlinked: 1,
        },
      ],
    });
    const cutoff = Date.parse(res.body.connections[0].cutoff);
    expect(Math.abs(cutoff - (Date.now() - 30 * DAY))).toBeLessThan(60_000);

    expect(await exists(expired.id)).toEqual({ session: false, chunks: 0 });
    expect(await exists(recent.id)).toMatchObject({ session: true, chunks: expect.any(Number) });
    expect((await exists(recent.id)).chunks).toBeGreaterThan(0);
    expect((await exists(running.id)).session).toBe(true);
    expect((await exists(keptForever.id)).session).toBe(true);
    // The review stays (it is part of the audit trail); only its link to the purged session goes.
    expect(await api.db.prisma.review.findUnique({ where: { id: review.id } })).toMatchObject({ sessionId: null });

    const audit = await api.request('GET', '/api/audit?action=recording.purge');
    expect(audit.body.items).toHaveLength(1);
    expect(audit.body.items[0]).toMatchObject({
      actor: { name: 'admin' },
      target: { type: 'connection', id: short.id, name: 'pg-short' },
      details: {
        retentionDays: 30,
        cutoff: res.body.connections[0].cutoff,
        sessions: 1,
        events: expired.events.length,
        reviewsUnlinked: 1,
      },
    });

    // Nothing left to purge: nothing deleted, no audit entry.
    const again = await api.request('POST', '/api/sessions/purge');
    expect(again.body).toEqual({ sessions: 0, events: 0, reviewsUnlinked: 0, connections: [] });
    expect((await api.request('GET', '/api/audit?action=recording.purge')).body.total).toBe(1);
  });

  it('purges in batches until every expired session is gone', async () => {
    const expired = await Promise.all(Array.from({ length: 5 }, () => sessionEnded(short, 31)));
    const { purgeExpiredRecordings } = await import('../../apps/api/src/jobs/retention.js');
    const before = await api.db.prisma.auditEntry.count({ where: { action: 'recording.purge' } });
    const result = await purgeExpiredRecordings(api.db.prisma, {
      actor: { id: null, name: 'batch-test' },
      batchSize: 2,
    });
    expect(result.sessions).toBe(5);
    for (const session of expired) expect((await exists(session.id)).session).toBe(false);
    // One audit entry per committed batch (2 + 2 + 1), each counting what its batch deleted.
    const entries = await api.db.prisma.auditEntry.findMany({
      where: { action: 'recording.purge', actorName: 'batch-test' },
    });
    expect(entries.map((e) => (e.details as { sessions: number }).sessions).sort()).toEqual([1, 2, 2]);
    expect(await api.db.prisma.auditEntry.count({ where: { action: 'recording.purge' } })).toBe(before + 3);
  });
  it('deletes nothing when the audit entry cannot be written', async () => {
    const expired = await sessionEnded(short, 33);
    const { purgeExpiredRecordings } = await import('../../apps/api/src/jobs/retention.js');
    // actorId is a uuid column: this entry is refused, and its batch must roll back with it.
    await expect(
      purgeExpiredRecordings(api.db.prisma, { actor: { id: 'not-a-uuid', name: 'broken' } }),
    ).rejects.toThrow();
    expect((await exists(expired.id)).session).toBe(true);
    expect((await exists(expired.id)).chunks).toBeGreaterThan(0);
    expect(await api.db.prisma.auditEntry.count({ where: { actorName: 'broken' } })).toBe(0);
  });
});

describe('the scheduled retention job', () => {
  it('runs through BullMQ when Redis is configured, and closes with the API', async () => {
    const expired = await sessionEnded(short, 45);
    const config = {
      ...loadConfig({ DATABASE_URL: api.databaseUrl, REDIS_URL: REDIS_URL }),
      redisPrefix: uniquePrefix(),
      retentionIntervalMs: 200,
    };
    const app = await buildApi({
      prisma: api.db.prisma,
      secretBox: api.secretBox,
      config,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      await app.ready();
      expect(app.jobs.mode).toBe('redis');
      await expect.poll(async () => (await exists(expired.id)).session, { timeout: 20_000 }).toBe(false);
      // The entry is committed with the deletes: once the session is gone, it is there.
      const entries = await api.db.prisma.auditEntry.findMany({
        where: { action: 'recording.purge', actorName: 'system' },
      });
      expect(entries.map((e) => e.targetName)).toContain('pg-short');
    } finally {
      await app.close();
    }
  });

  it('runs in-process without Redis', async () => {
    const expired = await sessionEnded(short, 50);
    const config = { ...loadConfig({ DATABASE_URL: api.databaseUrl }), retentionIntervalMs: 100 };
    const app = await buildApi({
      prisma: api.db.prisma,
      secretBox: api.secretBox,
      config,
      logger: createLogger({ level: 'silent' }),
    });
    try {
      await app.ready();
      expect(app.jobs.mode).toBe('in-process');
      await expect.poll(async () => (await exists(expired.id)).session, { timeout: 10_000 }).toBe(false);
    } finally {
      await app.close();
    }
  });
});

describe('BackgroundJobs', () => {
  async function retriesThenSucceeds(jobs: BackgroundJobs) {
    const attempts: number[] = [];
    const done = new Promise<unknown>((resolve) => {
      jobs.process<{ n: number }>('flaky', async (data, context) => {
        attempts.push(context.attempt);
        if (context.attempt < 3) throw new Error('not yet');
        resolve(data);
      });
    });
    await jobs.enqueue('flaky', { n: 7 }, { attempts: 3, backoff: { type: 'exponential', delay: 20 } });
    expect(await done).toEqual({ n: 7 });
    expect(attempts).toEqual([1, 2, 3]);
  }

  it('retries a failing job with backoff, in-process', async () => {
    const jobs = new InProcessJobs(silent);
    try {
      await retriesThenSucceeds(jobs);
    } finally {
      await jobs.close();
    }
  });

  it('retries a failing job with backoff, through BullMQ', async () => {
    const jobs = await createBackgroundJobs({ redisUrl: REDIS_URL, prefix: uniquePrefix(), logger: silent });
    expect(jobs.mode).toBe('redis');
    try {
      await retriesThenSucceeds(jobs);
    } finally {
      await jobs.close();
    }
  });

  it('keeps jobs queued before their handler exists, and stops repeating once closed', async () => {
    const jobs = new InProcessJobs(silent);
    const seen: unknown[] = [];
    await jobs.enqueue('early', { a: 1, when: new Date(0) });
    jobs.process('early', async (data) => seen.push(data));
    let ticks = 0;
    await jobs.repeat('tick', 20, async () => {
      ticks++;
    });
    await expect.poll(() => ticks >= 2 && seen.length === 1).toBe(true);
    // Data travels as JSON, as it would through Redis.
    expect(seen).toEqual([{ a: 1, when: '1970-01-01T00:00:00.000Z' }]);
    await jobs.close();
    const after = ticks;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(ticks).toBe(after);
    await expect(jobs.enqueue('early', {})).rejects.toThrow(/closed/);
  });
});
