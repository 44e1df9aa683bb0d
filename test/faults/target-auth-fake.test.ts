import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTarget, TargetError } from '../../apps/agent/src/postgres/target-connection.js';
import type { PostgresSessionOpen, PostgresTarget } from '../../packages/proto/src/session-open.js';
import { run, startDataPath, type DataPath } from '../support/data-path.js';

// What the agent does when a target asks for an authentication method the connection does
// not allow (require_auth; by default only SCRAM-SHA-256 or none unless TLS is verified).
// The target here is a test peer: a fake server that speaks just enough of the protocol to
// ask for a cleartext password, an MD5 hash, SCRAM it never finishes, or nothing, and that
// records every byte the agent sends after its StartupMessage (decrypted, over TLS), so
// "no password byte was sent" is checked where it would arrive. Through the real gateway
// and agent processes, and against connectTarget in-process for explicit lists (the
// gateway's part in carrying require_auth is tested in target-auth-cluster.test.ts).

const hex = (n: number) => randomBytes(n).toString('hex');
const password = `pw-${hex(12)}`;
const user = `agent_${hex(4)}`;

type Ask = 'password' | 'md5' | 'none' | 'scram-without-final';

interface FakeSession {
  startup: Record<string, string>;
  /** Every byte the agent sent after the StartupMessage, as the fake read it (plaintext). */
  received(): Buffer;
  /** Types of the whole messages in received(). */
  types(): string[];
  tls: boolean;
  closed: Promise<void>;
}

interface FakeTarget {
  host: string;
  port: number;
  sessions: FakeSession[];
  close(): Promise<void>;
}

const auth = (code: number, extra: Buffer = Buffer.alloc(0)) => message('R', Buffer.concat([int32(code), extra]));

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

function message(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(type, 'latin1'), int32(body.length + 4), body]);
}

/** AuthenticationOk, then what a server sends before it is ready for queries. */
function loggedIn(): Buffer {
  return Buffer.concat([
    auth(0),
    message('S', Buffer.from('server_version\u000016.0\u0000')),
    message('K', Buffer.concat([int32(4242), int32(1234)])),
    message('Z', Buffer.from('I')),
  ]);
}

function frontendTypes(bytes: Buffer): string[] {
  const types: string[] = [];
  for (let i = 0; i + 5 <= bytes.length;) {
    const length = bytes.readInt32BE(i + 1);
    if (i + 1 + length > bytes.length) break;
    types.push(String.fromCharCode(bytes[i]!));
    i += 1 + length;
  }
  return types;
}

/**
 * A fake Postgres server. It answers an SSLRequest with 'S' (and TLS with `identity`) or
 * 'N', reads the StartupMessage, and asks for `ask`. After a password, or a SCRAM initial
 * response in 'scram-without-final' (it skips the rest of the exchange), it lets the
 * client in; for 'none' it does so at once.
 */
async function startFakeTarget(ask: Ask, identity?: { cert: string; key: string }, host = '127.0.0.1') {
  const sessions: FakeSession[] = [];
  const sockets = new Set<Duplex>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('error', () => {});
    let stream: Duplex = raw;
    let buffer = Buffer.alloc(0);
    let after = Buffer.alloc(0);
    let session: FakeSession | undefined;
    let answered = false;
    let markClosed!: () => void;
    const closed = new Promise<void>((resolve) => (markClosed = resolve));
    raw.once('close', () => markClosed());

    const onData = (chunk: Buffer) => {
      if (session) {
        after = Buffer.concat([after, chunk]);
        const types = frontendTypes(after);
        // A password (or SASL initial response) came: let the client in, once.
        if (!answered && types.includes('p') && ask !== 'none') {
          answered = true;
          stream.write(loggedIn());
        }
        return;
      }
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 8) return;
      const length = buffer.readInt32BE(0);
      if (buffer.length < length) return;
      const code = buffer.readInt32BE(4);
      const packet = buffer.subarray(8, length);
      buffer = buffer.subarray(length);
      if (code === 80877103) {
        if (!identity) {
          raw.write('N');
          return;
        }
        raw.removeListener('data', onData);
        raw.write('S');
        const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: tls.createSecureContext(identity) });
        secure.on('error', () => {});
        sockets.add(secure);
        stream = secure;
        secure.on('data', onData);
        return;
      }
      const fields = packet.toString('utf8').split('\0');
      const startup: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length && fields[i]; i += 2) startup[fields[i]!] = fields[i + 1]!;
      const current: FakeSession = {
        startup,
        received: () => after,
        types: () => frontendTypes(after),
        tls: stream !== raw,
        closed,
      };
      session = current;
      sessions.push(current);
      if (ask === 'password') stream.write(auth(3));
      else if (ask === 'md5') stream.write(auth(5, randomBytes(4)));
      else if (ask === 'scram-without-final') stream.write(auth(10, Buffer.from('SCRAM-SHA-256\0\0')));
      else stream.write(loggedIn());
      if (buffer.length) onData(Buffer.alloc(0));
    };
    raw.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    host,
    port: (server.address() as net.AddressInfo).port,
    sessions,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  } satisfies FakeTarget;
}

let dir: string;
let identity: { cert: string; key: string };
let dp: DataPath;
const fakes: FakeTarget[] = [];

// A loopback address nothing else uses, so a leak of the target host is detectable.
const [a, b, c] = randomBytes(3);
const plantedHost = `127.${40 + (a! % 200)}.${1 + (b! % 250)}.${2 + (c! % 250)}`;

async function fake(ask: Ask, overTls = false): Promise<FakeTarget> {
  const target = await startFakeTarget(ask, overTls ? identity : undefined, plantedHost);
  fakes.push(target);
  return target;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'warden-auth-fake-'));
  const keyFile = join(dir, 'fake.key');
  const certFile = join(dir, 'fake.crt');
  const made = await run('openssl', [
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
    '/CN=fake-target',
    '-addext',
    `subjectAltName=IP:${plantedHost}`,
  ]);
  if (made.code !== 0) throw new Error(made.stderr);
  identity = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  dp = await startDataPath();
});

afterAll(async () => {
  try {
    await dp?.close();
  } finally {
    for (const f of fakes) await f.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

async function createConnection(name: string, target: FakeTarget, config: Record<string, unknown>): Promise<void> {
  const res = await dp.api.request('POST', '/api/connections', {
    body: {
      name,
      type: 'postgres',
      agent: dp.agentName,
      config: { host: target.host, port: target.port, database: 'app', user, password, ...config },
      policies: [],
    },
  });
  expect(res.status, res.text).toBe(201);
}

async function refusal(connection: string): Promise<{ code: string; message: string }> {
  const client = new pg.Client({ connectionString: dp.url(dp.adminKey, connection) });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { code: e.code ?? '', message: e.message };
  }
  await client.end();
  throw new Error(`connection ${connection} was expected to be refused`);
}

/** The fake saw the agent's startup, then nothing carrying a secret, then the socket closed. */
async function expectNothingSent(target: FakeTarget, overTls: boolean): Promise<void> {
  expect(target.sessions.length).toBeGreaterThanOrEqual(1);
  for (const session of target.sessions) {
    expect(session.startup.user).toBe(user);
    expect(session.tls).toBe(overTls);
    await session.closed;
    expect(session.types()).not.toContain('p');
    expect(session.received().toString('latin1')).not.toContain(password);
  }
}

function expectNothingNamed(message: string): void {
  for (const planted of [plantedHost, user, password, 'app']) expect(message).not.toContain(planted);
  expect(dp.gateway.output()).not.toContain(password);
  expect(dp.agent.output()).not.toContain(password);
}

describe('default, TLS to the target not verified: only SCRAM-SHA-256 or none', () => {
  it.each([
    ['password', 'disable', false, /asked for a cleartext password \(method "password"\)/],
    ['password', 'require', true, /asked for a cleartext password \(method "password"\)/],
    ['md5', 'require', true, /asked for an MD5 password hash \(method "md5"\)/],
    ['md5', 'prefer', false, /asked for an MD5 password hash \(method "md5"\)/],
  ] as const)(
    'a target asking for %s with sslmode=%s is refused before any password byte is sent',
    async (ask, sslmode, overTls, method) => {
      const target = await fake(ask, overTls);
      const name = `fake-${ask}-${sslmode}`;
      await createConnection(name, target, { sslmode });
      const { code, message } = await refusal(name);
      expect(code).toBe('08001');
      expect(message).toMatch(method);
      expect(message).toMatch(
        new RegExp(`not allowed without verified TLS \\(sslmode ${sslmode} allows scram-sha-256, none`),
      );
      expect(message).toMatch(/set require_auth on the connection/);
      expect(message).toMatch(/no password was sent/);
      expectNothingNamed(message);
      await expectNothingSent(target, overTls);
    },
  );

  it('a target that starts SCRAM and lets the agent in without its final message is refused', async () => {
    const target = await fake('scram-without-final', true);
    await createConnection('fake-scram-skip', target, { sslmode: 'require' });
    const { code, message } = await refusal('fake-scram-skip');
    expect(code).toBe('08001');
    expect(message).toMatch(/ended SCRAM-SHA-256 authentication without proving that it knows the password/);
    expectNothingNamed(message);
    // The agent did start SCRAM (a SASLInitialResponse, which carries no secret).
    const [session] = target.sessions;
    await session!.closed;
    expect(session!.received().toString('latin1')).toContain('SCRAM-SHA-256');
    expect(session!.received().toString('latin1')).not.toContain(password);
  });

  it('a target that asks for nothing (trust) is still served: the local Postgres through pg-test', async () => {
    const client = new pg.Client({ connectionString: dp.url() });
    await client.connect();
    try {
      expect((await client.query('SELECT current_user AS who')).rows).toEqual([{ who: 'postgres' }]);
    } finally {
      await client.end();
    }
  });
});

describe('the agent with an explicit require_auth (connectTarget in-process)', () => {
  const open = (target: FakeTarget | null, config: Partial<PostgresTarget>): PostgresSessionOpen => ({
    kind: 'postgres',
    connection: 'c',
    target: {
      host: target?.host ?? '127.0.0.1',
      port: target?.port ?? 5432,
      database: 'postgres',
      user: target ? user : 'postgres',
      sslmode: 'disable',
      password: { source: 'value', value: password },
      ...config,
    },
    startup: {},
  });

  async function refused(request: PostgresSessionOpen): Promise<TargetError> {
    try {
      const connection = await connectTarget(request, { timeoutMs: 20_000 });
      connection.socket.destroy();
    } catch (error) {
      expect(error).toBeInstanceOf(TargetError);
      return error as TargetError;
    }
    throw new Error('the login was expected to be refused');
  }

  it('require_auth=password lets a cleartext request through, even without TLS', async () => {
    const target = await fake('password');
    const connection = await connectTarget(open(target, { requireAuth: 'password' }), { timeoutMs: 20_000 });
    connection.socket.destroy();
    const [session] = target.sessions;
    expect(session!.types()).toEqual(['p']);
    expect(session!.received().toString('latin1')).toContain(`${password}\0`);
  });

  it('require_auth=md5 over TLS (not verified) lets an MD5 request through', async () => {
    const target = await fake('md5', true);
    const connection = await connectTarget(open(target, { sslmode: 'require', requireAuth: 'md5,scram-sha-256' }), {
      timeoutMs: 20_000,
    });
    expect(connection.tls).toBe(true);
    connection.socket.destroy();
    const [session] = target.sessions;
    expect(session!.types()).toEqual(['p']);
    // An MD5 answer: "md5" and 32 hex digits, not the password.
    expect(session!.received().toString('latin1')).toMatch(/md5[0-9a-f]{32}\0/);
    expect(session!.received().toString('latin1')).not.toContain(password);
  });

  it('require_auth=!password refuses a cleartext request, naming the connection setting', async () => {
    const target = await fake('password');
    const error = await refused(open(target, { requireAuth: '!password' }));
    expect(error.sqlstate).toBe('08001');
    expect(error.message).toBe(
      'the target asked for a cleartext password (method "password"), which the connection\'s require_auth does ' +
        'not allow (allowed: md5, scram-sha-256, none); no password was sent',
    );
    await expectNothingSent(target, false);
  });

  it('verified TLS (verify-full) allows any method by default; an explicit list replaces that default', async () => {
    // The fake's certificate names its address, and is the root the agent trusts.
    const verified = { sslmode: 'verify-full' as const, sslrootcert: identity.cert };
    const allowed = await fake('password', true);
    const connection = await connectTarget(open(allowed, verified), { timeoutMs: 20_000 });
    expect(connection.tls).toBe(true);
    connection.socket.destroy();
    expect(allowed.sessions[0]!.received().toString('latin1')).toContain(`${password}\0`);

    const strict = await fake('password', true);
    const error = await refused(open(strict, { ...verified, requireAuth: 'scram-sha-256' }));
    expect(error.message).toMatch(/cleartext password \(method "password"\), which the connection's require_auth/);
    await expectNothingSent(strict, true);
  });

  it('require_auth=scram-sha-256 refuses a target that lets the agent in without asking (the local trust Postgres)', async () => {
    const error = await refused(open(null, { requireAuth: 'scram-sha-256' }));
    expect(error.sqlstate).toBe('08001');
    expect(error.message).toMatch(
      /^the target let the agent in without authentication \(method "none"\), which the connection's require_auth does not allow \(allowed: scram-sha-256\)$/,
    );
    expect((await refused(open(null, { requireAuth: '!none' }))).message).toMatch(/method "none"/);
    // Control: the default allows none, and so does an explicit list with it.
    for (const requireAuth of [undefined, 'scram-sha-256,none']) {
      const connection = await connectTarget(open(null, requireAuth ? { requireAuth } : {}), { timeoutMs: 20_000 });
      expect(connection.processId).toBeGreaterThan(0);
      connection.socket.destroy();
    }
  });

  it('a require_auth the agent cannot read fails closed, before connecting', async () => {
    const target = await fake('password');
    const error = await refused(open(target, { requireAuth: 'kerberos' }));
    expect(error.sqlstate).toBe('08001');
    expect(error.message).toMatch(/the connection's require_auth is not valid: "kerberos" is not a known method/);
    expect(target.sessions).toHaveLength(0);
  });
});
