import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, createIdentity, testRedisUrl } from '../support/api.js';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { startFaultProxy, type FaultProxy } from './containment-proxy.js';

// Issue 24, item 2: containment that does not depend on Redis. The API (in-process) and the gateway
// (a real process) reach Redis only through a proxy this file owns; cutting it takes the control bus
// away from both. Kills and blocks are then stored and audited, answered at once, and the gateway
// ends the sessions at its next database check (WARDEN_CONTAINMENT_RECONCILE_MS, 2 s here).

const RECONCILE_MS = 2000;
/** What a client may wait for a decision made while the bus is down: one interval, plus a loaded machine's slack. */
const TAKES_EFFECT_WITHIN_MS = RECONCILE_MS + 8000;

let dp: DataPath;
let redis: FaultProxy;

beforeAll(async () => {
  const target = new URL(testRedisUrl);
  redis = await startFaultProxy({ host: target.hostname, port: Number(target.port || 6379) });
  const prefix = `warden-test-${randomBytes(4).toString('hex')}`;
  dp = await startDataPath({
    apiConfig: { redisUrl: redis.url('redis'), redisPrefix: prefix },
    gatewayEnv: {
      REDIS_URL: redis.url('redis'),
      WARDEN_REDIS_PREFIX: prefix,
      WARDEN_CONTAINMENT_RECONCILE_MS: String(RECONCILE_MS),
    },
  });
}, 180_000);

afterAll(async () => {
  redis?.restore();
  await dp?.close();
  await redis?.close();
});

async function connect(token = dp.adminKey): Promise<{ client: pg.Client; ended: Promise<Error & { code?: string }> }> {
  const client = new pg.Client({ connectionString: dp.url(token) });
  const ended = new Promise<Error & { code?: string }>((resolve) => client.on('error', resolve));
  await client.connect();
  await client.query('SELECT 1');
  return { client, ended };
}

async function liveSessionIds(identityName: string): Promise<string[]> {
  const rows = await dp.api.db.prisma.session.findMany({
    where: { status: 'active', identity: { name: identityName } },
    orderBy: { startedAt: 'desc' },
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

/** Resolves with what `promise` gave, or rejects after `ms` (so a session that never ends fails the test). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await run();
  return { result, ms: performance.now() - started };
}

describe('containment with the control bus down', () => {
  it('/readyz names the bus: ready with it, 503 "bus: unreachable" without it, ready again when it is back', async () => {
    expect(redis.accepted).toBeGreaterThan(0); // API and gateway really use the proxy
    expect(await dp.api.request('GET', '/readyz', { token: null })).toMatchObject({
      status: 200,
      body: { status: 'ready', database: 'ok', bus: 'ok' },
    });
    redis.cut();
    const down = await timed(() => dp.api.request('GET', '/readyz', { token: null }));
    expect(down.result.status).toBe(503);
    expect(down.result.body).toEqual({ status: 'unavailable', database: 'ok', bus: 'unreachable' });
    expect(down.ms).toBeLessThan(3000);
    // The API's /metrics says so too (warden_control_bus_up).
    const busUp = async () =>
      /^warden_control_bus_up (\d)$/m.exec((await dp.api.request('GET', '/metrics', { token: null })).text)?.[1];
    expect(await busUp()).toBe('0');
    redis.restore();
    await expect
      .poll(async () => (await dp.api.request('GET', '/readyz', { token: null })).body, { timeout: 15_000 })
      .toEqual({ status: 'ready', database: 'ok', bus: 'ok' });
    await expect.poll(busUp, { timeout: 15_000 }).toBe('1');
  });

  it('a kill while Redis refuses connections: stored and audited, answered at once, the session ends via the database', async () => {
    const victim = await connect();
    const [sessionId] = await liveSessionIds('admin');
    const bystander = await connect();
    redis.cut();
    const kill = await timed(() =>
      dp.api.request('POST', `/api/sessions/${sessionId}/kill`, { body: { reason: 'incident 24 (bus down)' } }),
    );
    expect(kill.result.status).toBe(202);
    expect(kill.result.body).toEqual({ id: sessionId, status: 'active', reason: 'incident 24 (bus down)' });
    expect(kill.ms).toBeLessThan(3000);
    // Durable and audited before any fan-out.
    const row = await dp.api.db.prisma.session.findUniqueOrThrow({ where: { id: sessionId! } });
    expect(row.killRequestedAt).toBeInstanceOf(Date);
    expect(row).toMatchObject({ killReason: 'incident 24 (bus down)', killedBy: 'admin' });
    const audit = await dp.api.request('GET', `/api/audit?action=session.kill&targetId=${sessionId}`);
    expect(audit.body.total).toBe(1);
    expect(dp.api.logs.join('')).toContain('control bus unavailable: the decision is stored');
    // The gateway cannot hear the bus either: it finds the kill at its next check.
    const error = await within(victim.ended, TAKES_EFFECT_WITHIN_MS, 'the killed session ending');
    expect(error.code).toBe('57P01');
    expect(error.message).toContain('terminated by admin: incident 24 (bus down)');
    await expect
      .poll(async () => (await dp.api.db.prisma.session.findUnique({ where: { id: sessionId! } }))?.status, {
        timeout: 10_000,
      })
      .toBe('killed');
    expect(dp.gateway.output()).toMatch(new RegExp(`"sessionId":"${sessionId}"[^\\n]*"via":"database"`));
    // Only that session.
    expect((await bystander.client.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
    await bystander.client.end();
    redis.restore();
  });

  it('a kill while Redis accepts but never answers also answers fast (the 103 s hang of the issue)', async () => {
    const victim = await connect();
    const [sessionId] = await liveSessionIds('admin');
    redis.blackhole();
    const kill = await timed(() => dp.api.request('POST', `/api/sessions/${sessionId}/kill`, { body: {} }));
    expect(kill.result.status).toBe(202);
    // At most the bus's 1 s command timeout for the first call that finds it silent.
    expect(kill.ms).toBeLessThan(3000);
    const error = await within(victim.ended, TAKES_EFFECT_WITHIN_MS, 'the killed session ending');
    expect(error.code).toBe('57P01');
    expect(error.message).toContain('terminated by admin: ended by an administrator');
    redis.restore();
  });

  it('a block during the outage ends the live sessions within the interval and refuses new logins', async () => {
    const mallory = await createIdentity(dp.api, 'mallory', { role: 'admin' });
    const a = await connect(mallory.token);
    const b = await connect(mallory.token);
    const other = await connect();
    expect(await liveSessionIds('mallory')).toHaveLength(2);
    redis.cut();
    const block = await timed(() =>
      dp.api.request('POST', '/api/identities/mallory/block', { body: { reason: 'stolen laptop' } }),
    );
    expect(block.result.status).toBe(200);
    expect(block.result.body).toMatchObject({ status: 'blocked', blockedReason: 'stolen laptop' });
    expect(block.ms).toBeLessThan(3000);
    const audit = await dp.api.request('GET', `/api/audit?action=identity.block&targetId=${mallory.id}`);
    expect(audit.body.total).toBe(1);
    const errors = await within(Promise.all([a.ended, b.ended]), TAKES_EFFECT_WITHIN_MS, 'the blocked sessions ending');
    expect(errors.map((e) => e.code)).toEqual(['57P01', '57P01']);
    expect(errors[0]!.message).toContain('identity blocked: stolen laptop');
    // New logins are refused at once: authentication reads the status from the database.
    await expect(connect(mallory.token)).rejects.toThrow(/blocked/);
    expect((await other.client.query('SELECT 3 AS n')).rows).toEqual([{ n: 3 }]);
    await other.client.end();
    redis.restore();
  });

  it('a call that truly needs the bus (dropping a revoked agent’s live streams) fails fast with 503 naming the bus', async () => {
    const spare = await createAgent(dp.api, 'spare');
    redis.cut();
    const revoke = await timed(() => dp.api.request('POST', `/api/agents/${spare.id}/revoke`));
    expect(revoke.result.status).toBe(503);
    expect(revoke.result.body.message).toMatch(/control bus \(Redis\) is unreachable/);
    expect(revoke.result.text).not.toContain(String(redis.port));
    expect(revoke.ms).toBeLessThan(3000);
    redis.restore();
  });

  it('once Redis is back, a kill travels on the bus again', async () => {
    await expect
      .poll(async () => (await dp.api.request('GET', '/readyz', { token: null })).body.bus, { timeout: 15_000 })
      .toBe('ok');
    const victim = await connect();
    const [sessionId] = await liveSessionIds('admin');
    const logsBefore = dp.api.logs.length;
    const kill = await dp.api.request('POST', `/api/sessions/${sessionId}/kill`, { body: { reason: 'bus is back' } });
    expect(kill.status).toBe(202);
    const error = await within(victim.ended, TAKES_EFFECT_WITHIN_MS, 'the killed session ending');
    expect(error.message).toContain('terminated by admin: bus is back');
    expect(dp.api.logs.slice(logsBefore).join('')).not.toContain('control bus unavailable');
  });
});
