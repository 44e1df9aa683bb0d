import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startDataPath, type CommandResult, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';

// Target authentication and TLS through the real gateway and agent processes, against a
// private Postgres 15 cluster started for this file: SCRAM-only with TLS (hostssl), plus
// pg_hba lines for one MD5 role and one cleartext-password role. Then pgbench on the
// default (trust, local server) connection in each query mode.

const PG_BIN = '/usr/lib/postgresql/15/bin';
const hex = (n: number) => randomBytes(n).toString('hex');

const scramUser = `scram_${hex(4)}`;
const md5User = `md5_${hex(4)}`;
const clearUser = `clear_${hex(4)}`;
const plainUser = `plain_${hex(4)}`;
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
let otherCert: { cert: string; key: string };
let dp: DataPath;

async function mustRun(command: string, args: string[]): Promise<CommandResult> {
  const result = await run(command, args, { timeoutMs: 30_000 });
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.code}):\n${result.stderr}`);
  return result;
}

const asPostgres = (args: string[]) => mustRun('runuser', ['-u', 'postgres', '--', ...args]);

async function selfSignedCert(prefix: string): Promise<{ cert: string; key: string }> {
  const keyFile = join(dir, `${prefix}.key`);
  const certFile = join(dir, `${prefix}.crt`);
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
  return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

function serverLog(): string {
  return readFileSync(join(dir, 'server.log'), 'utf8');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-auth-'));
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

  const server = await selfSignedCert('server');
  certPem = server.cert;
  otherCert = await selfSignedCert('other');
  for (const f of ['server.key', 'server.crt']) chownSync(join(dir, f), uid, gid);

  writeFileSync(
    join(dataDir, 'postgresql.conf'),
    [
      `listen_addresses = '127.0.0.1,${plantedHost}'`,
      'ssl = on',
      `ssl_cert_file = '${join(dir, 'server.crt')}'`,
      `ssl_key_file = '${join(dir, 'server.key')}'`,
      "password_encryption = 'scram-sha-256'",
      'log_connections = on',
      'fsync = off',
      '',
    ].join('\n'),
    { flag: 'a' },
  );
  // Only the MD5 and cleartext roles may log in without TLS, and one SCRAM role only
  // without TLS; everyone else needs TLS and SCRAM.
  writeFileSync(
    join(dataDir, 'pg_hba.conf'),
    [
      'local all postgres scram-sha-256',
      `host all ${md5User} 127.0.0.0/8 md5`,
      `host all ${clearUser} 127.0.0.0/8 password`,
      `hostnossl all ${plainUser} 127.0.0.0/8 scram-sha-256`,
      `hostssl all ${plainUser} 127.0.0.0/8 reject`,
      'hostssl all all 127.0.0.0/8 scram-sha-256',
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
    ssl: { rejectUnauthorized: false },
  });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${scramUser} LOGIN PASSWORD '${scramPassword}'`);
    await admin.query(`CREATE ROLE ${clearUser} LOGIN PASSWORD '${clearPassword}'`);
    await admin.query(`CREATE ROLE ${plainUser} LOGIN PASSWORD '${scramPassword}'`);
    // A real MD5 exchange needs an MD5-hashed password (an md5 hba line with a
    // SCRAM verifier silently upgrades to SCRAM).
    await admin.query(`SET password_encryption = 'md5'`);
    await admin.query(`CREATE ROLE ${md5User} LOGIN PASSWORD '${md5Password}'`);
    const hashes = await admin.query(
      `SELECT rolname, left(rolpassword, 13) AS kind FROM pg_authid WHERE rolname IN ('${scramUser}', '${md5User}')`,
    );
    expect(Object.fromEntries(hashes.rows.map((r) => [r.rolname, r.kind]))).toMatchObject({
      [scramUser]: 'SCRAM-SHA-256',
      [md5User]: expect.stringMatching(/^md5/),
    });
  } finally {
    await admin.end();
  }

  writeFileSync(join(dir, 'scram-password'), scramPassword + '\n', { mode: 0o600 });
  writeFileSync(join(dir, 'root.crt'), certPem);
  // PGPASSWORD is a trap: a connection without a password must not pick up the
  // agent's own libpq environment.
  dp = await startDataPath({ agentEnv: { WARDEN_TEST_SCRAM_PASSWORD: scramPassword, PGPASSWORD: scramPassword } });
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

async function createConnection(name: string, config: Record<string, unknown>): Promise<void> {
  const res = await dp.api.request('POST', '/api/connections', {
    body: { name, type: 'postgres', agent: dp.agentName, config },
  });
  expect(res.status, res.text).toBe(201);
}

const targetConfig = (config: Record<string, unknown>) => ({
  host: '127.0.0.1',
  port,
  database: 'postgres',
  ...config,
});

async function queryVia(connection: string, sql: string): Promise<Record<string, any>[]> {
  const client = new pg.Client({ connectionString: dp.url(dp.adminKey, connection) });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function refusal(connection: string): Promise<{ code: string; message: string }> {
  try {
    await queryVia(connection, 'SELECT 1');
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { code: e.code ?? '', message: e.message };
  }
  throw new Error(`connection ${connection} was expected to be refused`);
}

const SSL_QUERY = 'SELECT ssl, version, current_user AS who FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

describe('SCRAM-SHA-256 target with TLS', () => {
  const secrets = {
    stored: () => scramPassword,
    env: () => 'env:WARDEN_TEST_SCRAM_PASSWORD',
    file: () => `file:${join(dir, 'scram-password')}`,
  };
  const modes = {
    require: () => ({ sslmode: 'require' }),
    'verify-full': () => ({ host: 'localhost', sslmode: 'verify-full', sslrootcert: certPem }),
    'verify-full-file': () => ({
      host: 'localhost',
      sslmode: 'verify-full',
      sslrootcert: `file:${join(dir, 'root.crt')}`,
    }),
  };
  const cases = Object.keys(secrets).flatMap((secret) =>
    Object.keys(modes).map((mode) => [secret, mode] as [keyof typeof secrets, keyof typeof modes]),
  );

  it.each(cases)('password from %s, sslmode=%s: logs in over TLS', async (secret, mode) => {
    const name = `scram-${secret}-${mode}`;
    await createConnection(name, targetConfig({ user: scramUser, password: secrets[secret](), ...modes[mode]() }));
    const rows = await queryVia(name, SSL_QUERY);
    expect(rows).toEqual([{ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/), who: scramUser }]);
  });

  it('keeps a literal password sealed in the control plane', async () => {
    const row = await dp.api.db.prisma.connection.findUniqueOrThrow({ where: { name: 'scram-stored-require' } });
    const stored = JSON.stringify({ config: row.config, secrets: row.secrets });
    expect(stored).not.toContain(scramPassword);
    expect((row.secrets as any).password.source).toBe('stored');
    const api = await dp.api.request('GET', '/api/connections/scram-stored-require');
    expect(api.text).not.toContain(scramPassword);
  });

  it('verify-full refuses a certificate that does not name the host', async () => {
    // The certificate only has DNS:localhost; 127.0.0.1 is not in it.
    await createConnection(
      'verify-ip',
      targetConfig({ user: scramUser, password: scramPassword, sslmode: 'verify-full', sslrootcert: certPem }),
    );
    const { code, message } = await refusal('verify-ip');
    expect(code).toBe('08001');
    expect(message).toMatch(/certificate/i);
    expect(message).toMatch(/host name/i);
  });

  it('verify-full refuses a certificate from another CA', async () => {
    await createConnection(
      'verify-other-ca',
      targetConfig({
        host: 'localhost',
        user: scramUser,
        password: scramPassword,
        sslmode: 'verify-full',
        sslrootcert: otherCert.cert,
      }),
    );
    const { code, message } = await refusal('verify-other-ca');
    expect(code).toBe('08001');
    expect(message).toMatch(/certificate/i);
    expect(message).not.toMatch(/host name/i);
  });

  it('sslmode=disable against a hostssl-only pg_hba is refused, saying TLS is needed', async () => {
    await createConnection(
      'scram-plain',
      targetConfig({ user: scramUser, password: scramPassword, sslmode: 'disable' }),
    );
    const { code, message } = await refusal('scram-plain');
    expect(code).toBe('08001');
    expect(message).toMatch(/TLS/);
    expect(message).toMatch(/pg_hba/);
    expect(message).not.toMatch(/credentials/);
  });

  it('sslmode=prefer uses TLS when it can, and falls back to a plain connection when pg_hba wants one', async () => {
    await createConnection('prefer-tls', targetConfig({ user: scramUser, password: scramPassword, sslmode: 'prefer' }));
    expect(await queryVia('prefer-tls', SSL_QUERY)).toMatchObject([{ ssl: true, who: scramUser }]);
    await createConnection(
      'prefer-plain',
      targetConfig({ user: plainUser, password: scramPassword, sslmode: 'prefer' }),
    );
    expect(await queryVia('prefer-plain', SSL_QUERY)).toEqual([{ ssl: false, version: null, who: plainUser }]);
  });

  it('missing references and a missing password are named, values never', async () => {
    await createConnection(
      'env-missing',
      targetConfig({ user: scramUser, password: 'env:WARDEN_NOT_SET_ANYWHERE', sslmode: 'require' }),
    );
    expect(await refusal('env-missing')).toEqual({
      code: '08001',
      message: expect.stringMatching(/agent environment has no WARDEN_NOT_SET_ANYWHERE/),
    });
    await createConnection(
      'file-missing',
      targetConfig({ user: scramUser, password: `file:${join(dir, 'nope')}`, sslmode: 'require' }),
    );
    expect((await refusal('file-missing')).message).toMatch(/agent cannot read file:\//);
    await createConnection(
      'rootcert-missing',
      targetConfig({
        host: 'localhost',
        user: scramUser,
        password: scramPassword,
        sslmode: 'verify-full',
        sslrootcert: `file:${join(dir, 'nope.crt')}`,
      }),
    );
    expect((await refusal('rootcert-missing')).message).toMatch(/cannot read the sslrootcert file:\//);
    // Not the agent's PGPASSWORD (which would be right) either.
    await createConnection('no-password', targetConfig({ user: scramUser, sslmode: 'require' }));
    expect((await refusal('no-password')).message).toMatch(/asks for a password, but the connection has none/);
  });
});

describe('MD5 and cleartext password targets', () => {
  it('MD5 over a plain connection', async () => {
    // Without verified TLS the agent allows MD5 only when the connection says so (require_auth).
    await createConnection(
      'md5',
      targetConfig({ user: md5User, password: md5Password, sslmode: 'disable', require_auth: 'md5' }),
    );
    expect(await queryVia('md5', SSL_QUERY)).toEqual([{ ssl: false, version: null, who: md5User }]);
    expect(serverLog()).toMatch(new RegExp(`identity="${md5User}" method=md5`));
  });

  it('cleartext password over TLS', async () => {
    await createConnection(
      'cleartext',
      targetConfig({ user: clearUser, password: clearPassword, sslmode: 'require', require_auth: 'password' }),
    );
    expect(await queryVia('cleartext', SSL_QUERY)).toEqual([
      { ssl: true, version: expect.stringMatching(/^TLS/), who: clearUser },
    ]);
    expect(serverLog()).toMatch(new RegExp(`identity="${clearUser}" method=password`));
  });

  it.each([
    ['md5', md5User, 'disable', 'md5'],
    ['cleartext', clearUser, 'require', 'password'],
    ['scram', scramUser, 'require', 'scram-sha-256'],
  ])('a wrong %s password is refused without naming host, user or password', async (kind, user, sslmode, method) => {
    const wrong = `wrong-${hex(12)}`;
    const name = `wrong-${kind}`;
    await createConnection(name, {
      host: plantedHost,
      port,
      database: 'postgres',
      user,
      password: wrong,
      sslmode,
      require_auth: method,
    });
    const { code, message } = await refusal(name);
    expect(code).toBe('08001');
    expect(message).toMatch(/rejected the agent's credentials/);
    for (const planted of [plantedHost, user, wrong, md5Password, clearPassword, scramPassword]) {
      expect(message).not.toContain(planted);
      expect(dp.gateway.output()).not.toContain(planted);
      expect(dp.agent.output()).not.toContain(planted);
    }
    // The target did see the attempt (so the refusal really came from it).
    expect(serverLog()).toMatch(new RegExp(`password authentication failed for user "${user}"`));
  });
});

/**
 * A TLS-terminating man in the middle: answers the SSLRequest itself with its own
 * certificate, opens its own TLS connection to the target, and relays, keeping what
 * the client sent in the clear. SCRAM-SHA-256-PLUS (tls-server-end-point) must fail
 * through it; plain SCRAM would not notice it.
 */
async function startInterceptor(upstreamPort: number, identity: { cert: string; key: string }) {
  const seen: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    client.once('data', (sslRequest) => {
      const upstream = net.connect(upstreamPort, '127.0.0.1', () => upstream.write(sslRequest));
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.once('data', (answer) => {
        if (answer.toString() !== 'S') return client.destroy();
        client.write('S');
        const clientTls = new tls.TLSSocket(client, {
          isServer: true,
          secureContext: tls.createSecureContext(identity),
        });
        const upstreamTls = tls.connect({ socket: upstream, rejectUnauthorized: false, servername: 'localhost' });
        clientTls.on('error', () => upstreamTls.destroy());
        upstreamTls.on('error', () => clientTls.destroy());
        clientTls.on('data', (chunk: Buffer) => {
          seen.push(chunk);
          upstreamTls.write(chunk);
        });
        upstreamTls.pipe(clientTls);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    clientSent: () => Buffer.concat(seen).toString('latin1'),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('channel binding', () => {
  it('the agent uses SCRAM-SHA-256-PLUS over TLS: a TLS-terminating proxy is detected', async () => {
    const proxy = await startInterceptor(port, otherCert);
    try {
      // Control: without channel binding, the same proxy is invisible to SCRAM.
      const unbound = new pg.Client({
        host: '127.0.0.1',
        port: proxy.port,
        user: scramUser,
        password: scramPassword,
        database: 'postgres',
        ssl: { rejectUnauthorized: false },
        enableChannelBinding: false,
      });
      await unbound.connect();
      expect((await unbound.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      await unbound.end();

      await createConnection(
        'scram-mitm',
        targetConfig({ port: proxy.port, user: scramUser, password: scramPassword, sslmode: 'require' }),
      );
      const before = serverLog().length;
      const { code, message } = await refusal('scram-mitm');
      expect(code).toBe('08001');
      expect(message).toMatch(/channel binding/i);
      expect(message).not.toContain(scramUser);
      // What the agent sent, as the proxy saw it in the clear: the -PLUS mechanism
      // with tls-server-end-point binding, and the target rejected the binding.
      expect(proxy.clientSent()).toContain('SCRAM-SHA-256-PLUS\0');
      expect(proxy.clientSent()).toContain('p=tls-server-end-point,,');
      expect(serverLog().slice(before)).toMatch(/SCRAM channel binding check failed/);
      // Without the proxy the same login succeeds (tests above); the server log can
      // only say SCRAM was used, not whether it was the -PLUS variant.
      expect(serverLog()).toMatch(new RegExp(`identity="${scramUser}" method=scram-sha-256`));
    } finally {
      await proxy.close();
    }
  });
});

describe('pgbench through the gateway', () => {
  const bench = (args: string[]) =>
    run('pgbench', [...args, '-h', '127.0.0.1', '-p', String(dp.pgPort), '-U', 'tester', 'pg-test'], {
      env: { PGPASSWORD: dp.adminKey },
      timeoutMs: 60_000,
    });

  it('initializes with pgbench -i -s 1', async () => {
    const init = await bench(['-i', '-s', '1', '-q']);
    expect(init.stderr).toMatch(/done in/);
    expect(init.code, init.stderr).toBe(0);
  });

  it.each(['simple', 'extended', 'prepared'])('pgbench -S -M %s', async (mode) => {
    const result = await bench(['-S', '-c', '4', '-j', '2', '-T', '3', '-M', mode]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toContain(`query mode: ${mode}`);
    expect(result.stdout).toMatch(/number of failed transactions: 0 /);
    expect(result.stdout).toMatch(/^tps = \d+(\.\d+)? /m);
  });
});
