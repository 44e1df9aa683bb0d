import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import { recoveredEndOf, type RecordedEvent } from '@warden/recording';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { startProcess } from '../support/processes.js';

// Two gateway replicas on one control plane and Redis prefix (the agent dials both), refreshing
// their presence every 500 ms: a replica that misses three refreshes is gone, and the other one
// ends the sessions it left open as interrupted, sealing their recordings over what was stored.
// First the gone replica never comes back (SIGKILL); then it only froze (SIGSTOP) past the TTL and
// wakes up to find its live session ended elsewhere.
const PRESENCE_INTERVAL_MS = 500;
let dp: DataPath;
let mainId: string;

beforeAll(async () => {
  dp = await startDataPath({
    redisPrefix: `warden-test-${randomBytes(4).toString('hex')}`,
    replica: true,
    gatewayEnv: { WARDEN_GATEWAY_PRESENCE_INTERVAL_MS: String(PRESENCE_INTERVAL_MS) },
  });
  mainId = `${hostname()}-${dp.pgPort}`;
}, 180_000);

afterAll(async () => {
  dp?.gateway.child.kill('SIGCONT');
  await dp?.close();
});

const prisma = () => dp.api.db.prisma;

async function activeOn(gatewayId: string, since: Date) {
  return prisma().session.findFirst({ where: { gatewayId, status: 'active', startedAt: { gte: since } } });
}

async function events(sessionId: string): Promise<RecordedEvent[]> {
  const res = await dp.api.request('GET', `/api/sessions/${sessionId}/events?limit=1000`);
  expect(res.status, res.text).toBe(200);
  return res.body.events;
}

/** Waits until the statement mentioning `marker` and its result are stored. */
async function storedStatement(sessionId: string, marker: string): Promise<void> {
  const stored = async () => {
    const recorded = await events(sessionId);
    const query = recorded.find((e) => e.kind === 'query' && JSON.stringify(e.payload).includes(marker));
    return !!query && recorded.some((e) => e.kind === 'result' && (e.payload as { ref?: number }).ref === query.seq);
  };
  await expect.poll(stored, { timeout: 20_000, interval: 100 }).toBe(true);
}

async function endedRow(sessionId: string) {
  await expect
    .poll(async () => (await prisma().session.findUniqueOrThrow({ where: { id: sessionId } })).status, {
      timeout: 60_000,
      interval: 100,
    })
    .not.toBe('active');
  return prisma().session.findUniqueOrThrow({ where: { id: sessionId } });
}

/** A client on the main gateway with one statement run and recorded; `lost` settles when it is cut off. */
async function liveClientOnMain(marker: string) {
  const since = new Date();
  const client = new pg.Client({ connectionString: dp.url() });
  const lost = new Promise<void>((resolve) => {
    client.on('error', () => resolve());
    client.on('end', () => resolve());
  });
  await client.connect();
  expect((await client.query(`SELECT '${marker}' AS marker`)).rows[0].marker).toBe(marker);
  const row = await activeOn(mainId, since);
  expect(row).not.toBeNull();
  await storedStatement(row!.id, marker);
  return { client, lost, id: row!.id, marker };
}

async function expectSealedByReplica(id: string, marker: string) {
  const row = await prisma().session.findUniqueOrThrow({ where: { id } });
  expect(row.status).toBe('interrupted');
  expect(row.endReason).toBe(`gateway ${mainId} holding it went away; ended by gateway replica-b`);
  const recorded = await events(id);
  // Nothing stored after the seal: what was stored, then the end replica-b wrote, sealed.
  expect(row.sealedSeq).toBe(recorded.length);
  expect(recoveredEndOf(recorded.at(-1))).toEqual({
    gatewayId: mainId,
    by: 'replica-b',
    storedSeq: recorded.length - 1,
  });
  // What the client ran before is in it, reply included.
  const query = recorded.find((e) => e.kind === 'query' && JSON.stringify(e.payload).includes(marker));
  expect(query).toBeDefined();
  expect(recorded.some((e) => e.kind === 'result' && (e.payload as { ref?: number }).ref === query!.seq)).toBe(true);
  const verify = await dp.api.request('GET', `/api/sessions/${id}/verify`);
  expect(verify.status).toBe(200);
  expect(verify.body).toMatchObject({ ok: true, chain: 'intact', seal: 'valid', sealedAs: 'interrupted' });
  expect(verify.body.summary).toContain(`gateway ${mainId} went away without ending the session; gateway replica-b`);
}

describe('a replica that never comes back', () => {
  it('has its sessions ended and sealed as interrupted by the other replica once its presence expired', async () => {
    const since = new Date();
    // A session on the surviving replica, which must be left alone.
    const onReplica = new pg.Client({ connectionString: dp.replica!.url() });
    onReplica.on('error', () => {});
    await onReplica.connect();
    expect((await onReplica.query('SELECT 1 AS n')).rows[0].n).toBe(1);
    const replicaRow = await activeOn('replica-b', since);
    expect(replicaRow).not.toBeNull();

    const main = await liveClientOnMain('before-main-died');
    await dp.gateway.stop('SIGKILL');
    await main.lost;

    await endedRow(main.id);
    await expectSealedByReplica(main.id, main.marker);
    expect(dp.replica!.process.output()).toMatch(/a gateway replica went away without ending its sessions/);
    // The gone replica's presence is forgotten once nothing of it is left to end.
    await expect
      .poll(() => prisma().setting.findUnique({ where: { key: `gateway.presence:${mainId}` } }), { timeout: 10_000 })
      .toBeNull();

    // The surviving replica's own session goes on.
    expect((await onReplica.query('SELECT 2 AS n')).rows[0].n).toBe(2);
    expect((await prisma().session.findUniqueOrThrow({ where: { id: replicaRow!.id } })).status).toBe('active');
    await onReplica.end();
  }, 120_000);
});

describe('a replica frozen past its presence TTL', () => {
  it('wakes up to find its live session ended elsewhere: it disconnects the client and that end stands', async () => {
    await dp.startGateway();
    // The agent redials the restarted replica on its own, with backoff.
    await expect
      .poll(() => prisma().agentPresence.count({ where: { gatewayId: mainId } }), { timeout: 30_000 })
      .toBeGreaterThan(0);
    const main = await liveClientOnMain('before-freeze');
    dp.gateway.child.kill('SIGSTOP');
    // Sent while the replica is frozen: it reads it when it wakes, maybe before it notices the end.
    const sentWhileFrozen = main.client.query("SELECT 'sent-while-frozen'").then(
      () => 'answered',
      () => 'failed',
    );
    try {
      await endedRow(main.id);
    } finally {
      dp.gateway.child.kill('SIGCONT');
    }
    // Awake again, the replica finds the session ended and cuts the client off.
    await main.lost;
    await sentWhileFrozen;
    await dp.gateway.waitFor(/a live session was ended by another gateway replica/, 30_000);
    await expectSealedByReplica(main.id, main.marker);

    // It writes its presence again and serves new clients.
    await expect
      .poll(() => prisma().setting.findUnique({ where: { key: `gateway.presence:${mainId}` } }), { timeout: 10_000 })
      .not.toBeNull();
    const fresh = new pg.Client({ connectionString: dp.url() });
    await fresh.connect();
    expect((await fresh.query('SELECT 3 AS n')).rows[0].n).toBe(3);
    await fresh.end();
  }, 120_000);
});

describe('a second gateway process started under the id of a running one', () => {
  it('refuses to start, and leaves the running gateway’s sessions alone', async () => {
    const live = await liveClientOnMain('before-twin');
    // The same id on ports of its own: nothing else would stop it before it touched the sessions.
    const twin = startProcess('apps/gateway/src/main.ts', {
      ...dp.replica!.env,
      WARDEN_GATEWAY_ID: mainId,
      WARDEN_POSTGRES_ADDR: `127.0.0.1:${await freePort()}`,
      WARDEN_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
      WARDEN_SSH_ADDR: `127.0.0.1:${await freePort()}`,
    });
    try {
      await twin.waitFor(/is in use by a running gateway/, 60_000);
      // It exits by itself, failing.
      const code = await new Promise<number | null>((resolve) => {
        if (twin.child.exitCode !== null) resolve(twin.child.exitCode);
        else twin.child.once('exit', (exitCode) => resolve(exitCode));
      });
      expect(code).not.toBe(0);
    } finally {
      await twin.stop('SIGKILL');
    }
    expect(twin.output()).not.toMatch(/ended the sessions a previous run of this gateway left open/);
    expect((await prisma().session.findUniqueOrThrow({ where: { id: live.id } })).status).toBe('active');
    expect((await live.client.query('SELECT 4 AS n')).rows[0].n).toBe(4);
    await live.client.end();
  }, 120_000);
});
