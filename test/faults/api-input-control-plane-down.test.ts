import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, ensureBootstrapAdmin, type ApiInstance } from '@warden/api';
import { openDatabase, type Database } from '@warden/db';
import { createLogger, loadConfig, SecretBox } from '@warden/runtime';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

// The API with its control-plane database unreachable (issue 24, item 3, API part): calls answer 503
// with a clear message and nothing internal (no Prisma code, no source path, no host:port), the
// log has the detail, and once the database is back the same process answers again. The API
// reaches the database through a TCP proxy this test owns, so the shared Postgres is never touched.

/** A TCP proxy to Postgres that can refuse new connections, swallow them, or pass them on. */
class DbProxy {
  mode: 'pass' | 'refuse' | 'blackhole' = 'pass';
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((client) => this.accept(client));
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Cuts every open connection and sets what new ones get. */
  cut(mode: 'refuse' | 'blackhole'): Promise<void> {
    this.mode = mode;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (mode === 'blackhole') return Promise.resolve();
    // Refuse: stop listening, so connects get ECONNREFUSED.
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  async restore(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.mode = 'pass';
    if (!this.server.listening) await this.start(this.port);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.sockets.add(client);
    client.on('error', () => {});
    client.on('close', () => this.sockets.delete(client));
    if (this.mode === 'blackhole') return;
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => {
      this.sockets.delete(upstream);
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  }
}

let database: TestDatabase;
let proxy: DbProxy;
let db: Database;
let app: ApiInstance;
let baseUrl: string;
const adminKey = 'wdn_test_' + randomBytes(24).toString('base64url');
const logs: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const direct = new URL(database.url);
  proxy = new DbProxy(direct.hostname, Number(direct.port || 5432));
  await proxy.start();
  const proxied = new URL(database.url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  db = await openDatabase({ databaseUrl: proxied.toString(), dataDir: '.data' });
  await ensureBootstrapAdmin(db.prisma, adminKey);
  const config = {
    ...loadConfig({ DATABASE_URL: proxied.toString(), LOG_LEVEL: 'debug' }),
    api: { host: '127.0.0.1', port: 0 },
    // A low limit: failures the database caused must not count toward a lockout.
    loginMaxFailures: 2,
  };
  const destination = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  app = await buildApi({
    prisma: db.prisma,
    secretBox: SecretBox.fromString(randomBytes(32).toString('base64')),
    config,
    logger: createLogger({ level: 'debug', destination }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
}, 120_000);

// Each test starts with the database reachable, whatever the one before it left.
afterEach(async () => {
  await proxy.restore();
});

afterAll(async () => {
  await app?.close();
  await db?.close();
  await proxy?.close();
  await database?.drop();
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(baseUrl + path, {
    method,
    headers: {
      authorization: `Bearer ${adminKey}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(55_000),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

/** Nothing a client should see of the internals. */
function expectNoInternals(text: string): void {
  expect(text).not.toMatch(/P1\d{3}|P20\d\d|prisma|invocation|\.ts\b|\/work\/|node_modules/i);
  expect(text).not.toContain(`127.0.0.1:${proxy.port}`);
  expect(text).not.toContain(String(proxy.port));
  expect(text).not.toMatch(/ECONNREFUSED|Connection terminated|Can't reach/i);
}

const UNAVAILABLE = {
  statusCode: 503,
  error: 'Service Unavailable',
  message: 'the control-plane database is unavailable; try again shortly',
};

describe('control-plane database unreachable', () => {
  it('answers 503 without internals while connections are refused, logs the detail, recovers', async () => {
    expect((await call('GET', '/api/users')).status).toBe(200);
    await proxy.cut('refuse');
    const logsBefore = logs.length;

    for (const [method, path, body] of [
      ['GET', '/api/users', undefined],
      ['GET', '/api/connections', undefined],
      ['GET', '/api/audit', undefined],
      ['POST', '/api/groups', { name: 'while-down' }],
      ['GET', '/api/users', undefined],
    ] as const) {
      const res = await call(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(503);
      expect(res.body).toEqual(UNAVAILABLE);
      expectNoInternals(res.text);
    }

    // The log has what operators need: the driver's own account, at error level.
    const detail = logs
      .slice(logsBefore)
      .filter((l) => l.includes('control-plane database unavailable'))
      .map((l) => JSON.parse(l) as { level: number; err?: { message?: string; code?: string } });
    expect(detail.length).toBeGreaterThanOrEqual(5);
    expect(detail[0]!.level).toBe(50);
    expect(`${detail[0]!.err?.code} ${detail[0]!.err?.message}`).toMatch(/P1001|Can't reach database server/);

    // /metrics keeps answering during the outage, and counts the 503s.
    const scrape = await fetch(`${baseUrl}/metrics`);
    expect(scrape.status).toBe(200);
    const scraped = await scrape.text();
    expect(Number(/^warden_api_control_plane_unavailable_total (\d+)/m.exec(scraped)?.[1])).toBeGreaterThanOrEqual(5);

    await proxy.restore();
    // Five 503s from this address with loginMaxFailures 2: none counted as a failed authentication.
    expect((await call('GET', '/api/users')).status).toBe(200);
    expect((await call('POST', '/api/groups', { name: 'after-outage' })).status).toBe(201);
  });

  it('answers 503 when the database swallows connections (the connect timeout ends the wait)', async () => {
    await proxy.cut('blackhole');
    const res = await call('GET', '/api/groups');
    expect(res.status).toBe(503);
    expect(res.body).toEqual(UNAVAILABLE);
    expectNoInternals(res.text);
    await proxy.restore();
    expect((await call('GET', '/api/groups')).status).toBe(200);
  }, 60_000);
});
