import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../support/api.js';
import { run, startDataPath, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { adminQuery, uniqueName } from '../support/postgres.js';
import { login, simpleQuery, type ErrorFields } from '../support/wire.js';

// What a client sees when it cannot get in, or the target cannot be reached, through
// the real gateway and agent processes, and that no backend credential, host or user
// ever reaches the client or a log line on the way.
let dp: DataPath;
const backendUser = uniqueName('warden_backend');
const missingUser = uniqueName('warden_nosuchrole');
const missingDb = uniqueName('warden_missing_db');
const planted = 'planted-pw-' + randomBytes(12).toString('hex');
const plantedOther = 'planted-pw-' + randomBytes(12).toString('hex');
const unresolvableHost = `warden-${randomBytes(4).toString('hex')}.invalid`;
let closedPort: number;

async function createConnection(name: string, config: Record<string, unknown>, allowedGroups: string[] = []) {
  const res = await dp.api.request('POST', '/api/connections', {
    body: { name, type: 'postgres', agent: 'edge', config: { sslmode: 'disable', ...config }, allowedGroups },
  });
  if (res.status !== 201) throw new Error(`creating connection ${name}: ${res.status} ${res.text}`);
}

beforeAll(async () => {
  dp = await startDataPath();
  await adminQuery(`CREATE ROLE "${backendUser}" LOGIN`);
  closedPort = await freePort();
  for (const name of ['analysts', 'outsiders']) {
    const res = await dp.api.request('POST', '/api/groups', { body: { name } });
    if (res.status !== 201) throw new Error(`creating group ${name}: ${res.text}`);
  }
  const local = { host: '127.0.0.1', port: 5432 };
  await createConnection('pg-team', { ...local, database: dp.targetDb, user: 'postgres' }, ['analysts']);
  await createConnection('pg-secret', { ...local, database: dp.targetDb, user: backendUser, password: planted });
  await createConnection('pg-closed', {
    host: '127.0.0.1',
    port: closedPort,
    database: dp.targetDb,
    user: backendUser,
  });
  await createConnection('pg-nohost', { host: unresolvableHost, database: dp.targetDb, user: backendUser });
  await createConnection('pg-nodb', { ...local, database: missingDb, user: backendUser, password: planted });
  await createConnection('pg-baduser', { ...local, database: dp.targetDb, user: missingUser, password: plantedOther });
});

afterAll(async () => {
  await dp?.close();
  await adminQuery(`DROP ROLE IF EXISTS "${backendUser}"`);
});

/** Connects with node-postgres and returns the error it got (or fails the test if it got in). */
async function connectError(token: string, connection: string): Promise<Error & { code?: string; severity?: string }> {
  const client = new pg.Client({ connectionString: dp.url(token, connection) });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    return error as Error & { code?: string };
  }
  await client.end();
  throw new Error(`connecting to ${connection} unexpectedly succeeded`);
}

/** The raw ErrorResponse a client gets on login, every field of it. */
async function loginError(token: string, connection: string): Promise<ErrorFields> {
  try {
    const { client } = await login(dp.pgPort, token, connection);
    client.destroy();
  } catch (error) {
    const fields = error as ErrorFields;
    if (!fields.code) throw error;
    return { ...fields };
  }
  throw new Error(`login to ${connection} unexpectedly succeeded`);
}

async function sessionsOf(identityId: string) {
  return dp.api.db.prisma.session.findMany({ where: { identityId }, include: { connection: true } });
}

async function eventually<T>(fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('client authentication at the gateway', () => {
  it('a wrong token is 28P01, and the token is never logged', async () => {
    const wrong = 'wdn_wrong_' + randomBytes(16).toString('hex');
    const result = await dp.psql(['-c', 'SELECT 1'], { token: wrong });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/password authentication failed/);
    const error = await connectError(wrong, 'pg-test');
    expect(error.code).toBe('28P01');
    expect(dp.gateway.output()).not.toContain(wrong);
    expect(dp.agent.output()).not.toContain(wrong);
    // The refusal itself was logged (so the absence of the token means something).
    expect(dp.gateway.output()).toMatch(/postgres client refused/);
  });

  it('over TLS, refusals are readable ErrorResponses too (not bytes under the TLS layer)', async () => {
    const wrong = 'wdn_wrong_' + randomBytes(16).toString('hex');
    const psql = await run('psql', ['-X', '-d', dp.url(wrong, 'pg-test', 'sslmode=require'), '-c', 'SELECT 1']);
    expect(psql.code).not.toBe(0);
    expect(psql.stderr).toMatch(/password authentication failed/);
    const tls = { rejectUnauthorized: false };
    const unknown = new pg.Client({ connectionString: dp.url(dp.adminKey, 'no-such-connection', ''), ssl: tls });
    await expect(unknown.connect()).rejects.toMatchObject({ code: '3D000' });
    const ok = await run('psql', [
      '-X',
      '-A',
      '-t',
      '-d',
      dp.url(dp.adminKey, 'pg-test', 'sslmode=require'),
      '-c',
      'SHOW ssl',
    ]);
    expect(ok.stdout.trim()).toBe('off'); // TLS ends at the gateway; the agent's own leg is sslmode=disable
  });

  it('an unknown connection name is 3D000', async () => {
    const error = await connectError(dp.adminKey, 'no-such-connection');
    expect(error.code).toBe('3D000');
    expect(error.message).toContain('no-such-connection');
  });

  it('an identity outside the allowed groups is 28000; one inside gets in', async () => {
    const outsider = await createIdentity(dp.api, 'outsider', { role: 'user', groups: ['outsiders'] });
    const analyst = await createIdentity(dp.api, 'analyst', { role: 'user', groups: ['analysts'] });
    const denied = await connectError(outsider.token, 'pg-team');
    expect(denied.code).toBe('28000');
    expect(denied.message).toContain('pg-team');
    // pg-test allows no group at all: only admins.
    expect((await connectError(analyst.token, 'pg-test')).code).toBe('28000');
    const client = new pg.Client({ connectionString: dp.url(analyst.token, 'pg-team') });
    await client.connect();
    expect((await client.query('SELECT 41 + 1 AS n')).rows[0].n).toBe(42);
    await client.end();
  });

  it('a disabled identity is 28P01 (its token worked a moment before)', async () => {
    const user = await createIdentity(dp.api, 'soon-disabled', { role: 'user', groups: ['analysts'] });
    const ok = await dp.psql(['-A', '-t', '-c', 'SELECT 7'], { token: user.token, connection: 'pg-team' });
    expect(ok.stdout.trim()).toBe('7');
    const res = await dp.api.request('PATCH', '/api/users/soon-disabled', { body: { status: 'disabled' } });
    expect(res.status).toBe(200);
    const error = await connectError(user.token, 'pg-team');
    expect(error.code).toBe('28P01');
    expect(error.message).toMatch(/disabled/);
  });

  it('a revoked API key is 28P01', async () => {
    const user = await createIdentity(dp.api, 'revoked-key', { role: 'user', groups: ['analysts'] });
    const before = await connectError(user.token, 'pg-test'); // authenticated, but not allowed there
    expect(before.code).toBe('28000');
    const res = await dp.api.request('DELETE', `/api/api-keys/${user.keyId}`);
    expect(res.status).toBe(204);
    const error = await connectError(user.token, 'pg-team');
    expect(error.code).toBe('28P01');
    expect(error.message).toMatch(/revoked/);
  });

  it('a service identity in an allowed group gets in, and its session is recorded under it', async () => {
    const bot = await createIdentity(dp.api, 'ci-bot', { role: 'user', kind: 'service', groups: ['analysts'] });
    const client = new pg.Client({ connectionString: dp.url(bot.token, 'pg-team') });
    await client.connect();
    expect((await client.query('SELECT current_database() AS db')).rows[0].db).toBe(dp.targetDb);
    const live = await sessionsOf(bot.id);
    expect(live).toHaveLength(1);
    expect(live[0]!.status).toBe('active');
    await client.end();
    const [row] = await eventually(
      () => sessionsOf(bot.id),
      (rows) => rows[0]?.status === 'closed',
    );
    expect(row!.status).toBe('closed');
    expect(row!.connection.name).toBe('pg-team');
    expect(row!.clientUser).toBe('tester');
    expect(row!.statementCount).toBe(1);
  });
});

describe('target unreachable or refusing the agent', () => {
  // Each refusal must name the connection, and neither host, port, database, backend user nor password.
  const cases = [
    { connection: 'pg-closed', secrets: () => [`${closedPort}`, backendUser] },
    { connection: 'pg-nohost', secrets: () => [unresolvableHost, backendUser] },
    { connection: 'pg-nodb', secrets: () => [missingDb, backendUser, planted] },
    { connection: 'pg-baduser', secrets: () => [missingUser, plantedOther] },
  ];
  for (const { connection, secrets } of cases) {
    it(`${connection}: an 08001 error naming the connection, not the target`, async () => {
      const started = Date.now();
      const error = await connectError(dp.adminKey, connection);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(error.code).toBe('08001');
      expect(error.message).toContain(connection);
      const fields = await loginError(dp.adminKey, connection);
      expect(fields.code).toBe('08001');
      expect(fields.severity).toBe('FATAL');
      const visible = JSON.stringify(fields);
      for (const secret of [...secrets(), '127.0.0.1', 'localhost']) expect(visible).not.toContain(secret);
      // The failure reached the session table too.
      const failed = await eventually(
        () =>
          dp.api.db.prisma.session.findMany({ where: { connection: { name: connection }, status: { not: 'active' } } }),
        (rows) => rows.length >= 2,
      );
      expect(failed.map((s) => s.status)).toEqual(['failed', 'failed']);
    });
  }

  it('psql shows the same refusal without the target details', async () => {
    const result = await dp.psql(['-c', 'SELECT 1'], { connection: 'pg-nodb' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/pg-nodb/);
    expect(result.stderr).toMatch(/database does not exist/);
    expect(result.stderr).not.toContain(missingDb);
    expect(result.stderr).not.toContain(backendUser);
  });
});

describe('no backend credential reaches the client or a log', () => {
  it('the startup ParameterStatus session_authorization is the client user, not the backend user', async () => {
    const { client, parameters } = await login(dp.pgPort, dp.adminKey, 'pg-secret', 'informational-name');
    try {
      expect(parameters.get('session_authorization')).toBe('informational-name');
      expect(parameters.get('server_version')).toBeTruthy(); // the target's parameters did arrive
      for (const [name, value] of parameters) {
        expect(`${name}=${value}`).not.toContain(backendUser);
        expect(`${name}=${value}`).not.toContain(planted);
      }
      // It really is logged in as the backend user (so the rewrite above had something to hide).
      expect(await simpleQuery(client, 'SELECT current_user')).toEqual([backendUser]);
    } finally {
      client.destroy();
    }
  });

  it('node-postgres sees the same parameters', async () => {
    const client = new pg.Client({ connectionString: dp.url(dp.adminKey, 'pg-secret') });
    const seen: Record<string, string> = {};
    const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
    connection.on('parameterStatus', (m: { parameterName: string; parameterValue: string }) => {
      seen[m.parameterName] = m.parameterValue;
    });
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
    expect(seen.session_authorization).toBe('tester');
    expect(JSON.stringify(seen)).not.toContain(backendUser);
  });

  it('the stored passwords and the client tokens never appear in gateway, agent or API output', async () => {
    // Sessions on every connection that carries a planted password have run by now
    // (or run here, in case this test runs alone).
    await dp.psql(['-c', 'SELECT 1'], { connection: 'pg-secret' });
    await connectError(dp.adminKey, 'pg-baduser');
    const gateway = dp.gateway.output();
    const agent = dp.agent.output();
    expect(gateway).toMatch(/postgres session ended/); // debug logging is on: there was something to leak
    for (const secret of [planted, plantedOther, dp.adminKey]) {
      expect(gateway).not.toContain(secret);
      expect(agent).not.toContain(secret);
      expect(dp.api.logs.join('')).not.toContain(secret);
      expect(dp.api.responses.join('')).not.toContain(secret);
    }
  });
});
