import { randomUUID } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultApplicationName, isControlPlaneUnavailable, openDatabase, type Database } from '@warden/db';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort } from '../support/ports.js';
import { serverUrl } from '../support/postgres.js';

// Which errors mean "the control-plane database cannot be used" (clients then get a generic
// "try again" and the log the cause) and which are answers of a working database. The errors are
// the real ones, produced by Prisma and node-postgres against a closed port, a black hole, a
// terminated backend and a working database.

let database: TestDatabase;
let db: Database;

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase({ databaseUrl: database.url, dataDir: '.data', applicationName: 'warden-errors-test' });
});

afterAll(async () => {
  await db?.close();
  await database?.drop();
});

function urlAt(port: number): string {
  const url = new URL(database.url);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

describe('isControlPlaneUnavailable', () => {
  it('is true for an unreachable database, through Prisma (P1001) and the raw pool (ECONNREFUSED)', async () => {
    const closed = await openDatabase({ databaseUrl: urlAt(await freePort()), dataDir: '.data' });
    try {
      const viaPrisma = await failure(closed.prisma.apiKey.findFirst());
      expect((viaPrisma as { code?: string }).code).toBe('P1001');
      expect(isControlPlaneUnavailable(viaPrisma)).toBe(true);
      const raw = await failure(closed.execute('SELECT 1', []));
      expect((raw as { code?: string }).code).toBe('ECONNREFUSED');
      expect(isControlPlaneUnavailable(raw)).toBe(true);
    } finally {
      await closed.close();
    }
  });

  it('is true for a database that never answers, once the connect timeout passes', async () => {
    const hole = net.createServer(() => {});
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const port = (hole.address() as net.AddressInfo).port;
    const silent = await openDatabase({ databaseUrl: urlAt(port), dataDir: '.data', databaseConnectTimeoutMs: 300 });
    try {
      const viaPrisma = await failure(silent.prisma.apiKey.findFirst());
      expect(isControlPlaneUnavailable(viaPrisma)).toBe(true);
      expect(isControlPlaneUnavailable(await failure(silent.execute('SELECT 1', [])))).toBe(true);
    } finally {
      await silent.close();
      hole.close();
    }
  });

  it('is true for a connection the server terminated (57P01, "Connection terminated")', async () => {
    const client = new pg.Client({ connectionString: database.url });
    client.on('error', () => {});
    await client.connect();
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      const pid = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const running = failure(client.query('SELECT pg_sleep(10)'));
      await new Promise((r) => setTimeout(r, 200));
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      const terminated = await running;
      expect(isControlPlaneUnavailable(terminated)).toBe(true);
      // The same client afterwards: node-postgres' own "not queryable" error.
      expect(isControlPlaneUnavailable(await failure(client.query('SELECT 1')))).toBe(true);
    } finally {
      await admin.end();
      await client.end().catch(() => {});
    }
  });

  it('is false for the answers of a working database and for errors that are not the database', async () => {
    // A unique violation (P2002), a missing row (P2025), a syntax error, a bad cast: the database answered.
    await db.prisma.identity.create({ data: { name: 'cp-errors-dup' } });
    const duplicate = await failure(db.prisma.identity.create({ data: { name: 'cp-errors-dup' } }));
    expect((duplicate as { code?: string }).code).toBe('P2002');
    expect(isControlPlaneUnavailable(duplicate)).toBe(false);
    const missing = await failure(db.prisma.identity.update({ where: { id: randomUUID() }, data: { name: 'x' } }));
    expect(isControlPlaneUnavailable(missing)).toBe(false);
    expect(isControlPlaneUnavailable(await failure(db.execute('SELEC 1', [])))).toBe(false);
    expect(isControlPlaneUnavailable(await failure(db.execute('SELECT $1::int', ['x'])))).toBe(false);
    // A client's reset (a read on an open socket) is not the database's.
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read', errno: -104 });
    expect(isControlPlaneUnavailable(reset)).toBe(false);
    expect(isControlPlaneUnavailable(new Error('timed out waiting for the TLS handshake'))).toBe(false);
    expect(isControlPlaneUnavailable(undefined)).toBe(false);
    expect(isControlPlaneUnavailable('P1001')).toBe(false);
  });

  it('looks through causes: an error wrapping an unreachable database is one too', async () => {
    const closed = await openDatabase({ databaseUrl: urlAt(await freePort()), dataDir: '.data' });
    try {
      const cause = await failure(closed.prisma.apiKey.findFirst());
      expect(isControlPlaneUnavailable(new Error('loading the policy', { cause }))).toBe(true);
    } finally {
      await closed.close();
    }
  });
});

describe('control-plane connections', () => {
  it('carry the application_name given, or one after the entry point', async () => {
    await db.prisma.identity.count();
    await db.execute('SELECT 1', []);
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      const { rows } = await admin.query(
        'SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [database.name],
      );
      expect(rows.map((r) => r.application_name)).toEqual(['warden-errors-test']);
    } finally {
      await admin.end();
    }
    expect(defaultApplicationName('/srv/warden/apps/gateway/src/main.ts')).toBe('warden-gateway');
    expect(defaultApplicationName('/app/apps/api/dist/main.js')).toBe('warden-api');
    expect(defaultApplicationName('/app/apps/warden/src/main.ts')).toBe('warden-stack');
    expect(defaultApplicationName('/usr/lib/node_modules/vitest/dist/workers/forks.js')).toBe('warden');
    expect(defaultApplicationName(undefined)).toBe('warden');
  });
});
