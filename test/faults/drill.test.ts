import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, createIdentity, startTestApi, testRedisUrl, type TestApi } from '../support/api.js';
import { run } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { adminQuery, dropDatabase, serverUrl, uniqueName } from '../support/postgres.js';
import { startProcess, type RunningProcess } from '../support/processes.js';
import { startFaultProxy, type FaultProxy } from './containment-proxy.js';
import { cleanBench, fatalOf, LivePsql, liveClient, pgbench, ProcessWatch, refusal, within } from './drill-support.js';

// Issue 24, "Done when": the fault drill. The API, the gateway and the agent run as real processes;
// the API and the gateway reach the control-plane Postgres and Redis only through TCP proxies this
// file owns (the shared servers are never touched). pgbench and psql sessions run through the gateway
// while the drill, in turn:
//   1. terminates the control-plane connections of the API and the gateway (pg_terminate_backend);
//   2. makes the control plane unreachable for a few seconds;
//   3. makes Redis unreachable, and blocks an identity through the API process meanwhile;
//   4. kills the agent (SIGKILL), then starts it again;
//   5. kills the gateway (SIGKILL), then starts it again under the same id.
// It checks that the processes it did not kill never exit, that clients get the documented errors,
// that every session row ends closed, and that every recording verifies (sealed, or sealed as
// interrupted for the sessions of the killed gateway). The in-process API of test/support is for
// setup and for reading the database only.

const RECONCILE_MS = 2000;
/** A decision made while the bus is down takes effect at the next database check: one interval, plus a loaded machine's slack. */
const TAKES_EFFECT_WITHIN_MS = RECONCILE_MS + 8000;
/** "Answers fast" with the bus down: its 1 s command timeout at most, plus slack. */
const ANSWERS_WITHIN_MS = 5000;
/** How long the control plane refuses connections before it turns silent (then restored). */
const OUTAGE_MS = 3000;
const GATEWAY_UNAVAILABLE = 'the access service is unavailable; try again shortly';
const API_UNAVAILABLE = 'the control-plane database is unavailable; try again shortly';
const AGENT_LOST = 'lost the connection to agent "edge"';
const AGENT_OFFLINE = 'agent "edge" serving connection "pg-test" is offline';
const BLOCK_REASON = 'drill: stolen laptop';
/** Load kept modest on a shared 2-core machine: two clients, a fixed rate. */
const LOAD = ['-c', '2', '-R', '40'];

const watch = new ProcessWatch();
let setup: TestApi;
let redis: FaultProxy;
let controlPlane: FaultProxy;
let targetDb: string;
let controlPlaneDb: string;
let pgPort: number;
let apiPort: number;
let gatewayEnv: Record<string, string>;
let agentEnv: Record<string, string>;
let api: RunningProcess;
let gateway: RunningProcess;
let agent: RunningProcess;
let mallory: { token: string };
let admin: pg.Client;
let since: Date;
/** Sessions the killed gateway held: sealed as interrupted by its next run. */
const heldByKilledGateway: string[] = [];

const url = (token = setup.adminKey) =>
  `postgres://tester:${encodeURIComponent(token)}@127.0.0.1:${pgPort}/pg-test?sslmode=disable`;
const load = (args: string[], token = setup.adminKey) => pgbench({ port: pgPort, token }, [...LOAD, ...args]);
const psql = (sql: string, token = setup.adminKey) =>
  run('psql', ['-X', '--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '-At', '-d', url(token), '-c', sql], {
    env: { PGCONNECT_TIMEOUT: '30' },
  });

async function apiCall(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${setup.adminKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function startApi(): RunningProcess {
  return watch.watch(
    'api',
    startProcess('apps/api/src/main.ts', {
      DATABASE_URL: viaProxy(setup.databaseUrl),
      WARDEN_SECRET_KEY: setup.secretKey,
      WARDEN_API_ADDR: `127.0.0.1:${apiPort}`,
      WARDEN_DATA_DIR: setup.dataDir,
      REDIS_URL: redis.url('redis'),
      WARDEN_REDIS_PREFIX: gatewayEnv.WARDEN_REDIS_PREFIX,
      WARDEN_DATABASE_CONNECT_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'info',
    }),
  );
}

async function startGateway(): Promise<void> {
  gateway = watch.watch('gateway', startProcess('apps/gateway/src/main.ts', gatewayEnv));
  await gateway.waitFor(/gateway listening/, 90_000);
}

function startAgent(): void {
  agent = watch.watch('agent', startProcess('apps/agent/src/main.ts', agentEnv));
}

/** The control-plane URL through the proxy. */
function viaProxy(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  u.host = `127.0.0.1:${controlPlane.port}`;
  return u.toString();
}

/** Retries a login through the gateway until it serves (the agent dials back with backoff, up to 30 s apart). */
async function servedAgain(sql = 'SELECT 42'): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const result = await psql(sql);
    if (result.code === 0) return result.stdout.trim();
    if (Date.now() > deadline) throw new Error(`the gateway did not serve again: ${result.stderr}`);
    await sleep(250);
  }
}

function expectAlive(...processes: RunningProcess[]): void {
  expect(watch.unexpectedExits).toEqual([]);
  for (const p of processes) expect(watch.alive(p), p.output().slice(-3000)).toBe(true);
}

const prisma = () => setup.db.prisma;

async function activeSince(from: Date, identity?: string): Promise<string[]> {
  const rows = await prisma().session.findMany({
    where: { status: 'active', startedAt: { gte: from }, ...(identity ? { identity: { name: identity } } : {}) },
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

/**
 * Waits until exactly `count` sessions opened since `from` are live, each with a statement stored,
 * and `total` sessions have opened (pgbench opens one more first, to read the scale, and closes it
 * before its clients connect): every client is then connected. Resolves with the live sessions' ids.
 */
async function running(from: Date, count: number, options: { identity?: string; total?: number } = {}) {
  const { identity, total = count } = options;
  const where = { startedAt: { gte: from }, ...(identity ? { identity: { name: identity } } : {}) };
  const ready = async () => {
    const opened = await prisma().session.count({ where });
    const ids = await activeSince(from, identity);
    const stored = await prisma().recordingChunk.findMany({
      where: { sessionId: { in: ids } },
      select: { sessionId: true },
      distinct: ['sessionId'],
    });
    return opened >= total && ids.length === count && stored.length === count ? ids : [];
  };
  await expect.poll(async () => (await ready()).length, { timeout: 60_000, interval: 100 }).toBe(count);
  return ready();
}

async function sessionsSince(from: Date) {
  return prisma().session.findMany({ where: { startedAt: { gte: from } }, orderBy: { startedAt: 'asc' } });
}

/** Waits until every session opened since `from` has ended and is sealed. */
async function allClosed(from: Date, timeout = 60_000) {
  await expect
    .poll(async () => (await sessionsSince(from)).filter((s) => s.status === 'active' || s.finalHash === null), {
      timeout,
      interval: 200,
    })
    .toEqual([]);
  return sessionsSince(from);
}

/** Control-plane backends of the API and gateway processes, terminated; resolves with their application names. */
async function terminateControlPlaneConnections(): Promise<string[]> {
  const { rows } = await admin.query<{ application_name: string }>(
    `SELECT application_name, pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE application_name IN ('warden-api', 'warden-gateway') AND datname = $1`,
    [controlPlaneDb],
  );
  return rows.map((r) => r.application_name);
}

beforeAll(async () => {
  since = new Date();
  const r = new URL(testRedisUrl);
  redis = await startFaultProxy({ host: r.hostname, port: Number(r.port || 6379) });
  const p = new URL(serverUrl);
  controlPlane = await startFaultProxy({ host: p.hostname, port: Number(p.port || 5432) });
  admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();

  setup = await startTestApi();
  controlPlaneDb = new URL(setup.databaseUrl).pathname.slice(1);
  targetDb = uniqueName('warden_drill');
  await adminQuery(`CREATE DATABASE "${targetDb}"`);
  // pgbench's tables, made directly on the target: the drill runs the load, not the set-up, through the gateway.
  const init = await run('pgbench', ['-i', '-s', '1', '-q', '-d', `postgres://postgres@127.0.0.1:5432/${targetDb}`]);
  expect(init.code, init.stderr).toBe(0);

  const edge = await createAgent(setup, 'edge');
  const created = await setup.request('POST', '/api/connections', {
    body: {
      name: 'pg-test',
      type: 'postgres',
      agent: 'edge',
      config: { host: '127.0.0.1', port: 5432, database: targetDb, user: 'postgres', sslmode: 'disable' },
      allowedGroups: [],
      policies: [],
    },
  });
  expect(created.status, created.text).toBe(201);
  mallory = await createIdentity(setup, 'mallory', { role: 'admin' });

  pgPort = await freePort();
  apiPort = await freePort();
  const grpcPort = await freePort();
  gatewayEnv = {
    DATABASE_URL: viaProxy(setup.databaseUrl),
    WARDEN_SECRET_KEY: setup.secretKey,
    WARDEN_POSTGRES_ADDR: `127.0.0.1:${pgPort}`,
    WARDEN_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    WARDEN_SSH_ADDR: `127.0.0.1:${await freePort()}`,
    WARDEN_DATA_DIR: setup.dataDir,
    WARDEN_GATEWAY_ID: `drill-${randomBytes(3).toString('hex')}`,
    REDIS_URL: redis.url('redis'),
    WARDEN_REDIS_PREFIX: `warden-test-${randomBytes(4).toString('hex')}`,
    WARDEN_CONTAINMENT_RECONCILE_MS: String(RECONCILE_MS),
    WARDEN_DATABASE_CONNECT_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'info',
  };
  agentEnv = { WARDEN_AGENT_KEY: edge.key, WARDEN_GATEWAY_ADDR: `127.0.0.1:${grpcPort}`, LOG_LEVEL: 'info' };

  api = startApi();
  await startGateway();
  startAgent();
  await api.waitFor(/Server listening at/, 90_000);
  expect(await servedAgain()).toBe('42');
  expect((await apiCall('GET', '/readyz')).body).toEqual({ status: 'ready', database: 'ok', bus: 'ok' });
  // Both reach the shared services through the drill's proxies only.
  expect(controlPlane.accepted).toBeGreaterThan(0);
  expect(redis.accepted).toBeGreaterThan(0);
}, 240_000);

afterAll(async () => {
  redis?.restore();
  controlPlane?.restore();
  await watch.stop(agent);
  await watch.stop(gateway);
  await watch.stop(api);
  await admin?.end();
  await setup?.close();
  if (targetDb) await dropDatabase(targetDb);
  await redis?.close();
  await controlPlane?.close();
}, 120_000);

describe('the fault drill', () => {
  it('1. control-plane connections terminated under load: no process exits, live and new sessions go on', async () => {
    const from = new Date();
    const psqlLive = new LivePsql(url());
    expect(await psqlLive.send("SELECT 'before';")).toBe('before');
    const client = await liveClient(url());
    const bench = load(['-T', '6']);
    await running(from, 4, { total: 5 });

    const terminated = new Set<string>();
    let done = false;
    void bench.finally(() => (done = true));
    while (!done) {
      // The API process's pool is made busy too, so that it has connections to lose.
      expect((await apiCall('GET', '/api/sessions?limit=5')).status).toBe(200);
      for (const name of await terminateControlPlaneConnections()) terminated.add(name);
      await sleep(400);
    }
    expect([...terminated].sort()).toEqual(['warden-api', 'warden-gateway']);

    const result = await bench;
    expect(cleanBench(result), result.stderr + result.stdout).toBe(true);
    expect(await psqlLive.send("SELECT 'after';")).toBe('after');
    expect((await client.client.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
    const fresh = await psql("SELECT 'new session'");
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout.trim()).toBe('new session');
    expect((await apiCall('GET', '/api/sessions?limit=5')).status).toBe(200);

    expect(psqlLive.errors).toBe('');
    expect(await psqlLive.quit()).toBe(0);
    await client.client.end();
    for (const p of [gateway, api]) expect(p.output()).toContain('control-plane connection lost');
    expectAlive(api, gateway, agent);
  }, 120_000);

  it('2. the control plane unreachable for a few seconds: new logins get 57P03, live sessions go on, logins resume', async () => {
    const from = new Date();
    const psqlLive = new LivePsql(url());
    expect(await psqlLive.send("SELECT 'before';")).toBe('before');
    // Runs through the whole outage (refused, then silent: about 10 s) and past it.
    const bench = load(['-T', '16']);
    const ids = await running(from, 3, { total: 4 });

    /** What a new client and the API's caller get while the database is out of reach. */
    async function expectUnavailable(): Promise<void> {
      const refused = await psql('SELECT 1');
      expect(refused.code).not.toBe(0);
      expect(fatalOf(refused.stderr), refused.stderr).toBe(GATEWAY_UNAVAILABLE);
      const error = await refusal(url());
      expect(error?.code, error?.message).toBe('57P03');
      expect(error?.message).toBe(GATEWAY_UNAVAILABLE);
      const listed = await apiCall('GET', '/api/sessions?limit=5');
      expect(listed.status).toBe(503);
      expect(listed.body.message).toBe(API_UNAVAILABLE);
    }

    // Refused: every connection reset, connects closed on arrival.
    controlPlane.cut();
    const cutAt = performance.now();
    await expectUnavailable();
    const newBench = await pgbench({ port: pgPort, token: setup.adminKey }, ['-c', '1', '-t', '1']);
    expect(newBench.code).not.toBe(0);
    expect(newBench.stderr).toContain(`FATAL:  ${GATEWAY_UNAVAILABLE}`);
    // The live session goes on; its events wait for the database.
    expect(await psqlLive.send("SELECT 'during the outage';")).toBe('during the outage');
    await sleep(Math.max(0, OUTAGE_MS - (performance.now() - cutAt)));

    // Silent: connects accepted and never answered (WARDEN_DATABASE_CONNECT_TIMEOUT_MS, 2 s here).
    controlPlane.blackhole();
    await expectUnavailable();
    expect(await psqlLive.send("SELECT 'still during the outage';")).toBe('still during the outage');
    expectAlive(api, gateway, agent);
    controlPlane.restore();

    expect(await servedAgain("SELECT 'back'")).toBe('back');
    await expect
      .poll(async () => (await apiCall('GET', '/api/sessions?limit=5')).status, { timeout: 30_000 })
      .toBe(200);
    const result = await bench;
    expect(cleanBench(result), result.stderr + result.stdout).toBe(true);
    expect(await psqlLive.send("SELECT 'after';")).toBe('after');
    expect(psqlLive.errors).toBe('');
    expect(await psqlLive.quit()).toBe(0);
    // What the live session ran during the outage reached its recording once the database was back.
    await expect
      .poll(
        async () =>
          (await prisma().recordingChunk.findMany({ where: { sessionId: { in: ids } }, select: { events: true } }))
            .map((c) => c.events)
            .join('\n'),
        { timeout: 30_000 },
      )
      .toContain("SELECT 'still during the outage';");
    expectAlive(api, gateway, agent);
  }, 120_000);

  it('3. Redis unreachable: a block through the API answers fast and ends the blocked sessions within the interval; others go on', async () => {
    const from = new Date();
    const victimClient = await liveClient(url(mallory.token));
    const victimPsql = new LivePsql(url(mallory.token));
    expect(await victimPsql.send("SELECT 'mallory';")).toBe('mallory');
    const victimBench = pgbench({ port: pgPort, token: mallory.token }, ['-c', '2', '-R', '20', '-T', '60']);
    const victims = await running(from, 4, { identity: 'mallory', total: 5 });
    const bystander = new LivePsql(url());
    expect(await bystander.send("SELECT 'bystander';")).toBe('bystander');
    const bench = load(['-T', '8']);
    await running(from, 3, { identity: 'admin', total: 4 });

    redis.cut();
    expect(await apiCall('GET', '/readyz')).toMatchObject({ status: 503, body: { bus: 'unreachable' } });
    const asked = performance.now();
    const block = await apiCall('POST', '/api/identities/mallory/block', { reason: BLOCK_REASON });
    const answered = performance.now();
    expect(block.status, JSON.stringify(block.body)).toBe(200);
    expect(block.body).toMatchObject({ status: 'blocked', blockedReason: BLOCK_REASON });
    expect(answered - asked).toBeLessThan(ANSWERS_WITHIN_MS);

    // The gateway cannot hear the bus: it finds the block at its next database check.
    const ended = await within(victimClient.ended, TAKES_EFFECT_WITHIN_MS, "the blocked client's session ending");
    expect(ended.code, ended.message).toBe('57P01');
    expect(ended.message).toBe(`identity blocked: ${BLOCK_REASON}`);
    const victimResult = await within(victimBench, TAKES_EFFECT_WITHIN_MS, "the blocked pgbench's sessions ending");
    expect(victimResult.at - answered).toBeLessThan(TAKES_EFFECT_WITHIN_MS);
    expect(victimResult.code).not.toBe(0);
    expect(victimResult.stderr).toContain(`identity blocked: ${BLOCK_REASON}`);
    console.log(
      `block answered in ${Math.round(answered - asked)} ms; blocked sessions ended ${Math.round(victimResult.at - answered)} ms after (interval ${RECONCILE_MS} ms)`,
    );
    const lost = await victimPsql.sendOnLostConnection('SELECT 1;');
    expect(lost.stderr).toContain(`FATAL:  identity blocked: ${BLOCK_REASON}`);
    expect(lost.code).toBe(2);
    await expect.poll(() => activeSince(from, 'mallory'), { timeout: TAKES_EFFECT_WITHIN_MS }).toEqual([]);
    // New logins of the blocked identity are refused at once (authentication reads the database).
    const again = await refusal(url(mallory.token));
    expect(again?.message).toMatch(/blocked/);

    // Everyone else goes on, and logs in, without the bus.
    expect(await bystander.send("SELECT 'still here';")).toBe('still here');
    const fresh = await psql("SELECT 'no bus needed'");
    expect(fresh.code, fresh.stderr).toBe(0);
    const result = await bench;
    expect(cleanBench(result), result.stderr + result.stdout).toBe(true);
    expect(bystander.errors).toBe('');
    expect(await bystander.quit()).toBe(0);
    expectAlive(api, gateway, agent);

    redis.restore();
    await expect.poll(async () => (await apiCall('GET', '/readyz')).body?.bus, { timeout: 30_000 }).toBe('ok');
    // Each session that was live at the block was ended by it.
    const blocked = await prisma().session.findMany({ where: { id: { in: victims } } });
    expect(victims).toHaveLength(4);
    for (const row of blocked)
      expect([row.status, row.endReason]).toEqual(['killed', `identity blocked: ${BLOCK_REASON}`]);
    // Found by the gateway's database check, not the bus.
    for (const id of victims)
      expect(gateway.output()).toMatch(new RegExp(`"sessionId":"${id}"[^\\n]*"via":"database"`));

    // With Redis back, the API publishes again: a kill is not "stored for later" and ends its session.
    const opened = new Date();
    const target = await liveClient(url());
    const [targetId, ...others] = await running(opened, 1);
    expect(others).toEqual([]);
    const logged = api.output().length;
    const kill = await apiCall('POST', `/api/sessions/${targetId}/kill`, { reason: 'drill: bus is back' });
    expect(kill.status).toBe(202);
    const killed = await within(target.ended, TAKES_EFFECT_WITHIN_MS, 'the killed session ending');
    expect(killed.code).toBe('57P01');
    expect(killed.message).toBe('terminated by admin: drill: bus is back');
    expect(api.output().slice(logged)).not.toContain('control bus unavailable');
    expectAlive(api, gateway, agent);
  }, 120_000);

  it('4. the agent killed under load: live clients get 08006, new logins fail until it is back', async () => {
    const from = new Date();
    const psqlLive = new LivePsql(url());
    expect(await psqlLive.send("SELECT 'before';")).toBe('before');
    const client = await liveClient(url());
    const bench = load(['-T', '60']);
    const ids = await running(from, 4, { total: 5 });

    await watch.crash(agent);
    const ended = await within(client.ended, 30_000, "the client's session ending");
    expect(ended.code, ended.message).toBe('08006');
    expect(ended.message).toBe(AGENT_LOST);
    const result = await within(bench, 30_000, 'pgbench ending');
    expect(result.code, result.stdout).not.toBe(0);
    expect(result.stderr).toContain(AGENT_LOST);
    const lost = await psqlLive.sendOnLostConnection('SELECT 1;');
    expect(lost.stderr).toContain(`FATAL:  ${AGENT_LOST}`);
    expect(lost.code).toBe(2);

    // New logins are refused, with the reason, while the agent is away.
    const refused = await psql('SELECT 1');
    expect(refused.code).not.toBe(0);
    expect(fatalOf(refused.stderr), refused.stderr).toBe(AGENT_OFFLINE);
    const error = await refusal(url());
    expect(error?.code).toBe('08006');
    expect(error?.message).toBe(AGENT_OFFLINE);
    expectAlive(api, gateway);

    // The sessions it carried end interrupted, sealed by the gateway that ran them.
    await expect
      .poll(async () => (await prisma().session.findMany({ where: { id: { in: ids } } })).map((s) => s.status).sort(), {
        timeout: 30_000,
      })
      .toEqual(ids.map(() => 'interrupted'));

    startAgent();
    expect(await servedAgain()).toBe('42');
    expectAlive(api, gateway, agent);
  }, 180_000);

  it('5. the gateway killed under load: clients see the drop; back under the same id it ends their sessions interrupted', async () => {
    const from = new Date();
    const psqlLive = new LivePsql(url());
    expect(await psqlLive.send("SELECT 'before the crash';")).toBe('before the crash');
    const client = await liveClient(url());
    const bench = load(['-T', '60']);
    // Something of each is stored, so that there is a recording to seal over.
    const ids = await running(from, 4, { total: 5 });

    await watch.crash(gateway);
    const ended = await within(client.ended, 30_000, "the client's connection dropping");
    expect(ended.message).toMatch(/Connection terminated unexpectedly|ECONNRESET/);
    const result = await within(bench, 30_000, 'pgbench ending');
    expect(result.code, result.stdout).not.toBe(0);
    const lost = await psqlLive.sendOnLostConnection('SELECT 1;');
    expect(lost.stderr).toMatch(/server closed the connection unexpectedly|connection to server was lost/);
    expect(lost.code).toBe(2);
    const refused = await psql('SELECT 1');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Connection refused/);
    // Nobody else is there to end them while it is away.
    const held = await prisma().session.findMany({ where: { id: { in: ids } } });
    expect(held.map((s) => s.status)).toEqual(ids.map(() => 'active'));
    expect(held.map((s) => s.gatewayId)).toEqual(ids.map(() => gatewayEnv.WARDEN_GATEWAY_ID));
    heldByKilledGateway.push(...ids);
    // The agent lives on without its gateway, dialing with backoff.
    await sleep(1000);
    expectAlive(api, agent);

    await startGateway();
    expect(gateway.output()).toMatch(/ended the sessions a previous run of this gateway left open/);
    const rows = await prisma().session.findMany({ where: { id: { in: ids } } });
    for (const row of rows) {
      expect(row.status, row.id).toBe('interrupted');
      expect(row.endReason).toBe('the gateway holding it restarted');
      expect(row.endedAt).not.toBeNull();
      expect(row.finalHash).not.toBeNull();
    }
    // The agent that was never restarted comes back by itself.
    expect(await servedAgain()).toBe('42');
    expectAlive(api, gateway, agent);
  }, 240_000);

  it('6. afterwards: only killed processes exited, no session is left active, every recording verifies', async () => {
    const sessions = await allClosed(since);
    // Every phase's psql, node-postgres and pgbench sessions (more than 25 in all).
    expect(sessions.length).toBeGreaterThan(25);
    for (const session of sessions) {
      expect(['closed', 'killed', 'interrupted', 'failed'], `${session.id}: ${session.status}`).toContain(
        session.status,
      );
      expect(session.endedAt, session.id).not.toBeNull();
    }
    const reports = new Map<string, any>();
    for (const session of sessions) {
      const verify = await apiCall('GET', `/api/sessions/${session.id}/verify`);
      expect(verify.status).toBe(200);
      reports.set(session.id, verify.body);
    }
    const failed = [...reports].filter(([, r]) => !(r.ok && r.chain === 'intact' && r.seal === 'valid'));
    expect(failed, JSON.stringify(failed, null, 2)).toEqual([]);
    const count = (values: string[]) =>
      Object.fromEntries([...new Set(values)].map((v) => [v, values.filter((x) => x === v).length]));
    console.log(
      `${sessions.length} sessions: ${JSON.stringify(count(sessions.map((s) => s.status)))}; sealed as ${JSON.stringify(
        count([...reports.values()].map((r) => r.sealedAs)),
      )}; failed ones: ${JSON.stringify(count(sessions.filter((s) => s.status === 'failed').map((s) => s.endReason ?? '')))}`,
    );
    for (const [id, report] of reports) {
      expect(report.sealedAs, id).toBe(heldByKilledGateway.includes(id) ? 'interrupted' : 'ended');
    }
    expect(heldByKilledGateway.length).toBeGreaterThanOrEqual(4);
    // The processes the drill did not kill never exited; those it restarted are up.
    expectAlive(api, gateway, agent);
  }, 180_000);
});
