import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTarget } from '../../apps/agent/src/postgres/target-connection.js';
import type { PostgresSessionOpen, PostgresTarget } from '../../packages/proto/src/session-open.js';
import { run, startDataPath, type CommandResult, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';

// require_auth against a real Postgres: a private Postgres 15 cluster started for this file,
// with TLS and one role per method (SCRAM, MD5, cleartext password), through the real
// gateway and agent processes. By default (TLS not verified) the agent logs in with SCRAM
// and refuses MD5 and cleartext before sending anything the server could check; with
// verify-full every method works as before; a connection's require_auth overrides both.

const PG_BIN = '/usr/lib/postgresql/15/bin';
const hex = (n: number) => randomBytes(n).toString('hex');

const scramUser = `scram_${hex(4)}`;
const md5User = `md5_${hex(4)}`;
const clearUser = `clear_${hex(4)}`;
const superPassword = `super-${hex(12)}`;
const scramPassword = `scram-${hex(12)}`;
const md5Password = `md5-${hex(12)}`;
const clearPassword = `clear-${hex(12)}`;
// A loopback address nothing else uses, so a leak of the target host is detectable.
const [a, b, c] = randomBytes(3);
const plantedHost = `127.${40 + (a! % 200)}.${1 + (b! % 250)}.${2 + (c! % 250)}`;

let dir: string;
let dataDir: string;
let port: number;
let certPem: string;
let dp: DataPath;

async function mustRun(command: string, args: string[]): Promise<CommandResult> {
  const result = await run(command, args, { timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  return result;
}

const asPostgres = (args: string[]) => mustRun('runuser', ['-u', 'postgres', '--', ...args]);
const serverLog = () => readFileSync(join(dir, 'server.log'), 'utf8');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-require-auth-'));
  const uid = Number((await mustRun('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await mustRun('id', ['-g', 'postgres'])).stdout.trim());
  chownSync(dir, uid, gid);
  dataDir = join(dir, 'data');
  port = await freePort();

  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, superPassword + '\n', { mode: 0o600 });
  chownSync(pwfile, uid, gid);
  await asPostgres([
    `${PG_BIN}/initdb`,
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=scram-sha-256',
    `--pwfile=${pwfile}`,
    '--no-sync',
  ]);

  const keyFile = join(dir, 'server.key');
  const certFile = join(dir, 'server.crt');
  await mustRun('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost',
  ]);
  certPem = readFileSync(certFile, 'utf8');
  for (const f of [keyFile, certFile]) chownSync(f, uid, gid);

  writeFileSync(
    join(dataDir, 'postgresql.conf'),
    [
      `listen_addresses = '127.0.0.1,${plantedHost}'`,
      'ssl = on',
      `ssl_cert_file = '${certFile}'`,
      `ssl_key_file = '${keyFile}'`,
      "password_encryption = 'scram-sha-256'",
      'log_connections = on',
      'fsync = off',
      '',
    ].join('\n'),
    { flag: 'a' },
  );
  // With or without TLS: the method is what the role's line says.
  writeFileSync(
    join(dataDir, 'pg_hba.conf'),
    [
      'local all postgres scram-sha-256',
      `host all ${md5User} 127.0.0.0/8 md5`,
      `host all ${clearUser} 127.0.0.0/8 password`,
      'host all all 127.0.0.0/8 scram-sha-256',
      '',
    ].join('\n'),
  );
  await asPostgres([
    `${PG_BIN}/pg_ctl`,
    '-D',
    dataDir,
    '-o',
    `-p ${port} -k ${dir}`,
    '-l',
    join(dir, 'server.log'),
    '-w',
    'start',
  ]);

  const admin = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: superPassword,
    database: 'postgres',
  });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${scramUser} LOGIN PASSWORD '${scramPassword}'`);
    await admin.query(`CREATE ROLE ${clearUser} LOGIN PASSWORD '${clearPassword}'`);
    // A real MD5 exchange needs an MD5-hashed password (an md5 line with a SCRAM verifier upgrades to SCRAM).
    await admin.query(`SET password_encryption = 'md5'`);
    await admin.query(`CREATE ROLE ${md5User} LOGIN PASSWORD '${md5Password}'`);
  } finally {
    await admin.end();
  }
  dp = await startDataPath();
});

afterAll(async () => {
  try {
    await dp?.close();
  } finally {
    if (dataDir)
      await run('runuser', ['-u', 'postgres', '--', `${PG_BIN}/pg_ctl`, '-D', dataDir, 'stop', '-m', 'immediate']);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

const roles = {
  scram: () => ({ user: scramUser, password: scramPassword }),
  md5: () => ({ user: md5User, password: md5Password }),
  cleartext: () => ({ user: clearUser, password: clearPassword }),
};
type Role = keyof typeof roles;
const METHOD: Record<Role, string> = { scram: 'scram-sha-256', md5: 'md5', cleartext: 'password' };

async function createConnection(name: string, config: Record<string, unknown>): Promise<void> {
  const res = await dp.api.request('POST', '/api/connections', {
    body: {
      name,
      type: 'postgres',
      agent: dp.agentName,
      config: { port, database: 'postgres', ...config },
      policies: [],
    },
  });
  expect(res.status, res.text).toBe(201);
}

const SSL_QUERY = 'SELECT ssl, current_user AS who FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

async function queryVia(connection: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: dp.url(dp.adminKey, connection) });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(SSL_QUERY)).rows;
  } finally {
    await client.end();
  }
}

async function refusal(connection: string): Promise<{ code: string; message: string }> {
  try {
    await queryVia(connection);
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { code: e.code ?? '', message: e.message };
  }
  throw new Error(`connection ${connection} was expected to be refused`);
}

/** The server saw the connection but no password, right or wrong, and let nobody in as `user`. */
function expectNoPasswordChecked(logBefore: number, user: string): void {
  const log = serverLog().slice(logBefore);
  expect(log).toMatch(/connection received: host=/);
  expect(log).not.toContain(`password authentication failed for user "${user}"`);
  expect(log).not.toMatch(new RegExp(`connection authorized: user=${user}\\b`));
}

function expectNothingNamed(message: string): void {
  for (const planted of [plantedHost, scramUser, md5User, clearUser, scramPassword, md5Password, clearPassword]) {
    expect(message).not.toContain(planted);
  }
  for (const secret of [scramPassword, md5Password, clearPassword]) {
    expect(dp.gateway.output()).not.toContain(secret);
    expect(dp.agent.output()).not.toContain(secret);
  }
}

describe('default: TLS not verified (sslmode require or disable)', () => {
  it.each(['require', 'disable'])('sslmode=%s: a SCRAM target works as before', async (sslmode) => {
    await createConnection(`scram-${sslmode}`, { host: plantedHost, sslmode, ...roles.scram() });
    expect(await queryVia(`scram-${sslmode}`)).toEqual([{ ssl: sslmode === 'require', who: scramUser }]);
  });

  it.each([
    ['md5', 'require', /asked for an MD5 password hash \(method "md5"\)/],
    ['md5', 'disable', /asked for an MD5 password hash \(method "md5"\)/],
    ['cleartext', 'require', /asked for a cleartext password \(method "password"\)/],
    ['cleartext', 'disable', /asked for a cleartext password \(method "password"\)/],
  ] as const)('a %s target with sslmode=%s is refused, no password sent', async (role, sslmode, method) => {
    const name = `default-${role}-${sslmode}`;
    await createConnection(name, { host: plantedHost, sslmode, ...roles[role]() });
    const before = serverLog().length;
    const { code, message } = await refusal(name);
    expect(code).toBe('08001');
    expect(message).toMatch(method);
    expect(message).toMatch(/not allowed without verified TLS/);
    expect(message).toMatch(/no password was sent/);
    expectNothingNamed(message);
    expectNoPasswordChecked(before, roles[role]().user);
  });
});

describe('default: verified TLS (sslmode verify-full) allows any method, as before', () => {
  it.each(['scram', 'md5', 'cleartext'] as const)('a %s target works', async (role) => {
    const name = `verified-${role}`;
    await createConnection(name, { host: 'localhost', sslmode: 'verify-full', sslrootcert: certPem, ...roles[role]() });
    expect(await queryVia(name)).toEqual([{ ssl: true, who: roles[role]().user }]);
    expect(serverLog()).toMatch(new RegExp(`identity="${roles[role]().user}" method=${METHOD[role]}`));
  });
});

describe("a connection's require_auth, set through the API, reaches the agent", () => {
  it('require_auth=md5,scram-sha-256 lets an old MD5 server in without verified TLS', async () => {
    await createConnection('explicit-md5', {
      host: '127.0.0.1',
      sslmode: 'require',
      require_auth: 'md5,scram-sha-256',
      ...roles.md5(),
    });
    expect(await queryVia('explicit-md5')).toEqual([{ ssl: true, who: md5User }]);
  });

  it('require_auth=scram-sha-256 refuses a cleartext server even with verify-full', async () => {
    await createConnection('explicit-strict', {
      host: 'localhost',
      sslmode: 'verify-full',
      sslrootcert: certPem,
      require_auth: 'scram-sha-256',
      ...roles.cleartext(),
    });
    const before = serverLog().length;
    const { code, message } = await refusal('explicit-strict');
    expect(code).toBe('08001');
    expect(message).toMatch(
      /asked for a cleartext password \(method "password"\), which the connection's require_auth does not allow \(allowed: scram-sha-256\)/,
    );
    expectNothingNamed(message);
    expectNoPasswordChecked(before, clearUser);
  });
});

describe('the agent logs in with the methods an explicit list allows (connectTarget in-process)', () => {
  const open = (role: Role, target: Partial<PostgresTarget>): PostgresSessionOpen => ({
    kind: 'postgres',
    connection: 'c',
    target: {
      host: '127.0.0.1',
      port,
      database: 'postgres',
      user: roles[role]().user,
      sslmode: 'disable',
      password: { source: 'value', value: roles[role]().password },
      ...target,
    },
    startup: {},
  });

  it.each([
    ['md5', 'md5'],
    ['cleartext', 'password'],
    ['cleartext', '!md5'],
  ] as const)('a %s role with require_auth=%s, without TLS', async (role, requireAuth) => {
    const connection = await connectTarget(open(role, { requireAuth }), { timeoutMs: 20_000 });
    expect(connection.tls).toBe(false);
    expect(connection.processId).toBeGreaterThan(0);
    connection.socket.destroy();
    expect(serverLog()).toMatch(new RegExp(`identity="${roles[role]().user}" method=${METHOD[role]}`));
  });
});
