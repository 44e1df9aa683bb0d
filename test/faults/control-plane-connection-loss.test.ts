import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { serverUrl } from '../support/postgres.js';
import { LivePsql } from '../support/live-psql.js';
import { startProcess, type RunningProcess } from '../support/processes.js';

// Postgres ends control-plane connections under Warden's feet (a restart, a failover, an idle
// timeout, pg_terminate_backend): every process must live on, the sessions it carries with it.
// Real processes: the gateway and agent of the data path, and the API as its own process on the
// same control plane; real psql clients through the gateway; recordings checked by the API's
// verify. The connections are found the way an operator finds them, by application_name.

let dp: DataPath;
let api: RunningProcess;
let apiPort: number;
let controlPlaneDb: string;
let admin: pg.Client;

function alive(p: RunningProcess): boolean {
  return p.child.exitCode === null && p.child.signalCode === null;
}

async function apiGet(path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
    headers: { authorization: `Bearer ${dp.adminKey}` },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function warden(): Promise<{ pid: number; application_name: string }[]> {
  const { rows } = await admin.query(
    `SELECT pid, application_name FROM pg_stat_activity WHERE application_name LIKE 'warden-%' AND datname = $1`,
    [controlPlaneDb],
  );
  return rows;
}

/** The query of the issue; resolves once the terminated backends are gone. */
async function terminateWarden(): Promise<string[]> {
  const { rows } = await admin.query<{ pid: number; application_name: string }>(
    `SELECT pid, application_name, pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE application_name LIKE 'warden-%' AND datname = $1`,
    [controlPlaneDb],
  );
  await gone(rows.map((r) => r.pid));
  return rows.map((r) => r.application_name);
}

async function gone(pids: number[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await admin.query(`SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])`, [pids]);
    if (rows.length === 0) return;
    await sleep(25);
  }
  throw new Error(`backends ${pids.join(', ')} did not end`);
}

beforeAll(async () => {
  dp = await startDataPath();
  controlPlaneDb = new URL(dp.api.databaseUrl).pathname.slice(1);
  apiPort = await freePort();
  api = startProcess('apps/api/src/main.ts', {
    DATABASE_URL: dp.api.databaseUrl,
    WARDEN_SECRET_KEY: dp.api.secretKey,
    WARDEN_API_ADDR: `127.0.0.1:${apiPort}`,
    WARDEN_DATA_DIR: dp.api.dataDir,
    LOG_LEVEL: 'info',
  });
  await api.waitFor(/Server listening at/, 60_000);
  admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
}, 180_000);

afterAll(async () => {
  await admin?.end();
  await api?.stop();
  await dp?.close();
});

describe('control-plane connections terminated by Postgres', () => {
  it('kill no process: live and new psql sessions keep working, and their recordings verify', async () => {
    const since = new Date();
    const live = new LivePsql(dp.url());
    expect(await live.send('SELECT 40 + 2;')).toBe('42');

    // Each process names its connections: warden-gateway and warden-api (pools close idle
    // connections after 10 s, so both are made busy until both are seen).
    let names = new Set<string>();
    for (let i = 0; i < 50 && !(names.has('warden-gateway') && names.has('warden-api')); i++) {
      const [fresh, listed] = await Promise.all([dp.psql(['-At', '-c', 'SELECT 1']), apiGet('/api/sessions')]);
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(listed.status).toBe(200);
      names = new Set((await warden()).map((r) => r.application_name));
    }
    expect([...names].sort()).toEqual(['warden-api', 'warden-gateway']);

    for (let round = 1; round <= 3; round++) {
      // The gateway's recording pool has the live session's events to write: it is busy too.
      expect(await live.send(`SELECT 'before ${round}';`)).toBe(`before ${round}`);
      await apiGet('/api/sessions');
      const terminated = await terminateWarden();
      if (round === 1) expect(new Set(terminated)).toEqual(new Set(['warden-gateway', 'warden-api']));

      await sleep(300);
      expect(alive(dp.gateway), dp.gateway.output().slice(-3000)).toBe(true);
      expect(alive(api), api.output().slice(-3000)).toBe(true);
      expect(alive(dp.agent)).toBe(true);
      // The live session goes on; new sessions open; the API answers.
      expect(await live.send(`SELECT ${round} * 1000;`)).toBe(String(round * 1000));
      const fresh = await dp.psql(['-At', '-c', `SELECT 'new session ${round}'`]);
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(fresh.stdout.trim()).toBe(`new session ${round}`);
      expect((await apiGet('/api/sessions')).status).toBe(200);
    }

    // Connections terminated while a session's recording is being written: every batch a
    // terminated insert took with it is written again.
    const burst = new LivePsql(dp.url());
    expect(await burst.send("SELECT 'burst open';")).toBe('burst open');
    const statements = Array.from({ length: 1500 }, (_, i) => `SELECT ${i + 1};`).join('\n');
    let done = false;
    let killed = 0;
    const answered = burst.send(statements, 120_000).finally(() => (done = true));
    while (!done) {
      const { rows } = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'warden-%' AND datname = $1`,
        [controlPlaneDb],
      );
      killed += rows.length;
      await sleep(30);
    }
    const lines = (await answered).split('\n');
    expect(lines).toHaveLength(1500);
    expect(lines.at(-1)).toBe('1500');
    expect(killed).toBeGreaterThan(0);
    expect(burst.errors).toBe('');
    expect(live.errors).toBe('');

    expect(await burst.quit()).toBe(0);
    expect(await live.quit()).toBe(0);
    expect(alive(dp.gateway), dp.gateway.output().slice(-3000)).toBe(true);
    expect(alive(api)).toBe(true);

    // Every session of the test ended and sealed, and verifies through the API process.
    const sessions = await waitForSealed(since, 6);
    for (const session of sessions) {
      const verify = await apiGet(`/api/sessions/${session.id}/verify`);
      expect(verify.status).toBe(200);
      expect(verify.body, `session ${session.id}`).toMatchObject({ ok: true });
    }
    // The burst's statements and results are all in its recording (1 + 1500 statements).
    expect(Math.max(...sessions.map((s) => s.eventCount ?? 0))).toBeGreaterThanOrEqual(2 * 1501);

    // The losses were logged, as warnings, by the gateway and the API.
    for (const p of [dp.gateway, api]) expect(p.output()).toContain('control-plane connection lost');
  }, 300_000);

  it('the in-process API of the test lives on too when every connection to its database is terminated', async () => {
    const before = await dp.api.request('GET', '/api/sessions');
    expect(before.status).toBe(200);
    const { rows } = await admin.query(
      `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [controlPlaneDb],
    );
    expect(rows.length).toBeGreaterThan(0);
    await gone(rows.map((r) => r.pid));
    await sleep(300);
    expect((await dp.api.request('GET', '/api/sessions')).status).toBe(200);
    expect((await apiGet('/api/sessions')).status).toBe(200);
    const fresh = await dp.psql(['-At', '-c', 'SELECT 7']);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(alive(dp.gateway) && alive(api) && alive(dp.agent)).toBe(true);
  }, 120_000);
});

async function waitForSealed(since: Date, count: number) {
  for (let i = 0; i < 300; i++) {
    const sessions = await dp.api.db.prisma.session.findMany({ where: { startedAt: { gte: since } } });
    if (sessions.length >= count && sessions.every((s) => s.finalHash !== null)) return sessions;
    await sleep(100);
  }
  const sessions = await dp.api.db.prisma.session.findMany({ where: { startedAt: { gte: since } } });
  throw new Error(`sessions not all sealed: ${JSON.stringify(sessions.map((s) => [s.id, s.status, s.finalHash]))}`);
}
