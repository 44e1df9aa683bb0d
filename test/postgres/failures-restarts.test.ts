import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { login, simpleQuery } from '../support/wire.js';

// The agent and the gateway going away under live and new sessions: what clients see,
// how fast, what the session rows say afterwards, and that everything comes back.
let dp: DataPath;
beforeAll(async () => {
  dp = await startDataPath();
});
afterAll(async () => {
  await dp?.close();
});

type PgError = Error & { code?: string };
let frozenOpen: { before: number } | undefined;

async function works(token = dp.adminKey): Promise<void> {
  const client = new pg.Client({ connectionString: dp.url(token) });
  await client.connect();
  try {
    expect((await client.query('SELECT 6 * 7 AS n')).rows[0].n).toBe(42);
  } finally {
    await client.end();
  }
}

async function connectError(): Promise<PgError> {
  const client = new pg.Client({ connectionString: dp.url() });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    return error as PgError;
  }
  await client.end();
  throw new Error('connecting unexpectedly succeeded');
}

async function sessionRow(id: string, until: (status: string) => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await dp.api.db.prisma.session.findUniqueOrThrow({ where: { id } });
    if (until(row.status) || Date.now() > deadline) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The id of the one active session whose client runs `marker` (set as application_name). */
async function liveSessionId(before: Date): Promise<string> {
  const rows = await dp.api.db.prisma.session.findMany({ where: { status: 'active', startedAt: { gte: before } } });
  expect(rows).toHaveLength(1);
  return rows[0]!.id;
}

/** Waits until the target runs a statement matching `pattern` (so it really is mid-query). */
async function waitForBackend(pattern: string): Promise<void> {
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  try {
    for (let i = 0; i < 100; i++) {
      const res = await direct.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()`,
        [pattern],
      );
      if (res.rows[0].n > 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no backend running ${pattern}`);
  } finally {
    await direct.end();
  }
}

/** Client backends on the target database (other than the one asking), once they settle at `expected`. */
async function targetBackends(expected: number, timeoutMs = 3000): Promise<number> {
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await direct.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      );
      const n = res.rows[0].n as number;
      if (n === expected || Date.now() > deadline) return n;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await direct.end();
  }
}

describe('agent offline', () => {
  it('a new connection gets 08006 naming the connection, promptly; after the agent is back it works', async () => {
    await works();
    await dp.agent.stop();
    await dp.waitForAgent('offline');
    const started = Date.now();
    const error = await connectError();
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(error.code).toBe('08006');
    expect(error.message).toContain('"pg-test"');
    expect(error.message).toMatch(/offline/);
    const psql = await dp.psql(['-c', 'SELECT 1']);
    expect(psql.code).not.toBe(0);
    expect(psql.stderr).toMatch(/agent "edge" serving connection "pg-test" is offline/);
    await dp.startAgent();
    await works();
  });
});

describe('agent frozen', () => {
  it('a new connection is refused with 08006 by the open timeout, not left hanging', async () => {
    const before = await targetBackends(0);
    dp.agent.child.kill('SIGSTOP');
    try {
      const started = Date.now();
      const error = await connectError();
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(error.code).toBe('08006');
      expect(error.message).toContain('"pg-test"');
    } finally {
      dp.agent.child.kill('SIGCONT');
    }
    await works();
    frozenOpen = { before };
  }, 30_000);

  // The agent handles the SessionOpen it finds on waking while the gateway's Close
  // (sent at the open timeout) has already destroyed the stream: the target
  // connection it then opens must be closed, not leaked.
  it('the open the agent only saw after thawing leaves no target connection behind', async () => {
    expect(frozenOpen).toBeDefined();
    expect(await targetBackends(frozenOpen!.before, 15_000)).toBe(frozenOpen!.before);
  }, 30_000);
});

describe('agent killed mid-query', () => {
  it('the client gets an 08006-class error within seconds and the session is interrupted', async () => {
    const before = new Date();
    const client = new pg.Client({ connectionString: dp.url() });
    client.on('error', () => {});
    await client.connect();
    const id = await liveSessionId(before);
    const sleeping = client.query('SELECT pg_sleep(20) AS killed_mid_query').then(
      () => null,
      (error: PgError) => error,
    );
    await waitForBackend('%killed_mid_query%');
    const started = Date.now();
    dp.agent.child.kill('SIGKILL');
    const error = await sleeping;
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(error).not.toBeNull();
    expect(error!.code).toMatch(/^08/);
    expect(error!.message).toMatch(/lost the connection to agent "edge"/);
    const row = await sessionRow(id, (s) => s !== 'active');
    expect(row.status).toBe('interrupted');
    expect(row.endedAt).not.toBeNull();
    expect(row.statementCount).toBe(1);
    await client.end().catch(() => {});

    await dp.waitForAgent('offline');
    await dp.startAgent();
    await works();
  });
});

describe('agent restart', () => {
  it('a live session ends with 08006 and is interrupted; new connections work after the restart', async () => {
    const before = new Date();
    const { client } = await login(dp.pgPort, dp.adminKey, 'pg-test');
    expect(await simpleQuery(client, 'SELECT 1')).toEqual(['1']);
    const id = await liveSessionId(before);
    await dp.agent.stop();
    const { error } = await client.outcome(10_000);
    expect(error?.severity).toBe('FATAL');
    expect(error?.code).toBe('08006');
    expect((await sessionRow(id, (s) => s !== 'active')).status).toBe('interrupted');
    await dp.waitForAgent('offline');
    await dp.startAgent();
    await works();
  });
});

describe('gateway restart', () => {
  it('live sessions get an error and their rows are not left active; the agent comes back by itself', async () => {
    const before = new Date();
    const { client: raw } = await login(dp.pgPort, dp.adminKey, 'pg-test');
    expect(await simpleQuery(raw, 'SELECT 1')).toEqual(['1']);
    const js = postgres(dp.url(), { max: 1, onnotice: () => {} });
    expect((await js`SELECT 2 AS n`)[0]!.n).toBe(2);
    const busy = new pg.Client({ connectionString: dp.url() });
    busy.on('error', () => {});
    await busy.connect();
    const sleeping = busy.query('SELECT pg_sleep(20) AS during_gateway_stop').then(
      () => null,
      (error: PgError) => error,
    );
    await waitForBackend('%during_gateway_stop%');
    const ids = (
      await dp.api.db.prisma.session.findMany({ where: { status: 'active', startedAt: { gte: before } } })
    ).map((r) => r.id);
    expect(ids).toHaveLength(3);

    const stopped = Date.now();
    expect(await dp.gateway.stop()).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(10_000);
    const { error } = await raw.outcome(5000);
    expect(error?.code).toBe('08006');
    expect(error?.message).toMatch(/shutting down/);
    const busyError = await sleeping;
    expect(busyError?.code).toMatch(/^08/);
    await expect(js`SELECT 3`).rejects.toThrow();
    await js.end({ timeout: 1 }).catch(() => {});
    await busy.end().catch(() => {});

    // Written before the gateway exited: nothing is left "active" for a session that is gone.
    const rows = await dp.api.db.prisma.session.findMany({ where: { id: { in: ids } } });
    expect(rows.map((r) => r.status)).toEqual(['interrupted', 'interrupted', 'interrupted']);
    for (const row of rows) {
      expect(row.endedAt).not.toBeNull();
      expect(row.endReason).toMatch(/shutting down/);
    }
    // ... and neither is the agent, which the stopped gateway can no longer reach.
    const agent = await dp.api.request('GET', '/api/agents/edge');
    expect(agent.body.status).toBe('offline');

    await dp.startGateway();
    await dp.waitForAgent('online'); // the agent redials with backoff, on its own
    await works();
    expect(dp.agent.child.exitCode).toBeNull(); // the same agent process as before
  });
});
