import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../support/api.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { serverUrl } from '../support/postgres.js';
import { startProcess, type RunningProcess } from '../support/processes.js';
import { startFaultProxy, type FaultProxy } from './containment-proxy.js';

// Issue 24, item 2: "SIGTERM does not stop the process". The API and the gateway run as real
// processes whose Redis and control-plane Postgres are reached through proxies this file owns. With
// the bus down, and separately with the database silent, SIGTERM ends each within its grace period
// (WARDEN_SHUTDOWN_GRACE_MS, short here).

const GRACE_MS = 6000;
/** Start-up of a second process and the exit itself on a loaded 2-core machine. */
const SLACK_MS = 6000;

let redis: FaultProxy;
let postgres: FaultProxy;

beforeAll(async () => {
  const r = new URL(testRedisUrl);
  redis = await startFaultProxy({ host: r.hostname, port: Number(r.port || 6379) });
  const p = new URL(serverUrl);
  postgres = await startFaultProxy({ host: p.hostname, port: Number(p.port || 5432) });
});

afterAll(async () => {
  await redis?.close();
  await postgres?.close();
});

/** Sends SIGTERM; resolves with the exit code and how long the process took to go. */
async function terminate(process: RunningProcess): Promise<{ code: number | null; ms: number }> {
  const started = performance.now();
  // stop() falls back to SIGKILL after its timeout: far beyond the grace period, so a hang still shows.
  const code = await process.stop('SIGTERM', GRACE_MS + 60_000);
  const ms = performance.now() - started;
  console.log(`SIGTERM → exit ${code} after ${Math.round(ms)} ms (grace ${GRACE_MS} ms)`);
  return { code, ms };
}

/** The control-plane URL of `db` through the Postgres proxy. */
function viaProxy(db: TestDatabase): string {
  const url = new URL(db.url);
  url.host = `127.0.0.1:${postgres.port}`;
  return url.toString();
}

describe('the API process stops within its grace period', () => {
  let db: TestDatabase;
  let dataDir: string;
  let env: Record<string, string>;
  let port: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'warden-api-shutdown-'));
    port = await freePort();
    env = {
      DATABASE_URL: viaProxy(db),
      REDIS_URL: redis.url('redis'),
      WARDEN_REDIS_PREFIX: `warden-test-${randomBytes(4).toString('hex')}`,
      WARDEN_SECRET_KEY: randomBytes(32).toString('base64'),
      BOOTSTRAP_ADMIN_KEY: 'wdn_test_' + randomBytes(24).toString('base64url'),
      WARDEN_API_ADDR: `127.0.0.1:${port}`,
      WARDEN_DATA_DIR: dataDir,
      WARDEN_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      LOG_LEVEL: 'info',
    };
  });

  afterAll(async () => {
    redis.restore();
    postgres.restore();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function startApi(): Promise<RunningProcess> {
    const api = startProcess('apps/api/src/main.ts', env);
    await api.waitFor(/Server listening/, 90_000);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'ok', bus: 'ok' });
    return api;
  }

  it('with the control bus down', async () => {
    const api = await startApi();
    redis.cut();
    // The process knows: readiness says so, and a kill or block would not wait on it.
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    const { code, ms } = await terminate(api);
    expect(ms, api.output()).toBeLessThan(GRACE_MS + SLACK_MS);
    expect(code).not.toBeNull(); // exited by itself, not SIGKILLed
    // BullMQ's close is bounded (apps/api/src/jobs/bullmq-jobs.ts): the stop completes, it is not forced.
    expect(code).toBe(0);
    redis.restore();
  }, 120_000);

  it('with the control-plane database silent', async () => {
    const api = await startApi();
    postgres.blackhole();
    const { code, ms } = await terminate(api);
    expect(ms, api.output()).toBeLessThan(GRACE_MS + SLACK_MS);
    expect(code).not.toBeNull();
    postgres.restore();
  }, 120_000);
});

describe('the gateway process stops within its grace period, holding a live session', () => {
  let dp: DataPath;

  beforeAll(async () => {
    const prefix = `warden-test-${randomBytes(4).toString('hex')}`;
    dp = await startDataPath({
      apiConfig: { redisUrl: redis.url('redis'), redisPrefix: prefix },
      gatewayEnv: {
        REDIS_URL: redis.url('redis'),
        WARDEN_REDIS_PREFIX: prefix,
        WARDEN_SHUTDOWN_GRACE_MS: String(GRACE_MS),
        WARDEN_GATEWAY_ID: `gw-shutdown-${randomBytes(3).toString('hex')}`,
      },
    });
  }, 180_000);

  afterAll(async () => {
    redis.restore();
    postgres.restore();
    await dp?.close();
  });

  async function liveClient(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: dp.url() });
    client.on('error', () => {});
    await client.connect();
    await client.query('SELECT 1');
    return client;
  }

  it('with the control bus down', async () => {
    const client = await liveClient();
    redis.cut();
    const { code, ms } = await terminate(dp.gateway);
    expect(ms, dp.gateway.output()).toBeLessThan(GRACE_MS + SLACK_MS);
    expect(code).not.toBeNull();
    // Nothing was waiting on Redis: the stop was the clean one, with the session recorded as interrupted.
    expect(code).toBe(0);
    await client.end().catch(() => {});
    await expect
      .poll(async () => (await dp.api.db.prisma.session.findFirst({ orderBy: { startedAt: 'desc' } }))?.status)
      .toBe('interrupted');
    redis.restore();
  }, 120_000);

  it('with the control-plane database silent', async () => {
    // The previous test stopped the gateway. This one reaches the control plane through the Postgres
    // proxy (the in-process API keeps its direct URL, for setup and checks); same ports, so the agent
    // dials it again by itself.
    const url = new URL(dp.api.databaseUrl);
    url.host = `127.0.0.1:${postgres.port}`;
    dp.gateway = startProcess('apps/gateway/src/main.ts', {
      DATABASE_URL: url.toString(),
      WARDEN_SECRET_KEY: dp.api.secretKey,
      WARDEN_POSTGRES_ADDR: `127.0.0.1:${dp.pgPort}`,
      WARDEN_GRPC_ADDR: `127.0.0.1:${dp.grpcPort}`,
      WARDEN_SSH_ADDR: `127.0.0.1:${dp.sshPort}`,
      WARDEN_DATA_DIR: dp.api.dataDir,
      WARDEN_SHUTDOWN_GRACE_MS: String(GRACE_MS),
      WARDEN_GATEWAY_ID: `gw-shutdown-db-${randomBytes(3).toString('hex')}`,
      LOG_LEVEL: 'debug',
    });
    await dp.gateway.waitFor(/gateway listening/, 90_000);
    await dp.waitForAgent('online');
    const client = await liveClient();
    expect(postgres.accepted).toBeGreaterThan(0); // the gateway really goes through the proxy
    postgres.blackhole();
    const { code, ms } = await terminate(dp.gateway);
    expect(ms, dp.gateway.output()).toBeLessThan(GRACE_MS + SLACK_MS);
    expect(code).not.toBeNull();
    await client.end().catch(() => {});
    postgres.restore();
  }, 180_000);
});
