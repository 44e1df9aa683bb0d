import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { adminQuery, databaseUrl, dropDatabase, uniqueName } from '../support/postgres.js';
import { startProcess, type RunningProcess } from '../support/processes.js';

// Issue 25, items 1 and 2: `DATABASE_URL=... pnpm start` from a fresh directory (no .data, the
// database not yet created) comes up and shows the first admin key once; a start killed between
// migrating and showing the key never leaves the operator without a usable key; and
// `pnpm admin:recover` issues a new admin key on the server, audited.
//
// The stack runs as `pnpm start` runs it (node --import tsx apps/warden/src/main.ts, cwd the
// repository). Not through pnpm itself: `pnpm start` first regenerates the Prisma client and the
// protobuf code in the shared tree, which would rewrite files other test files are importing.

const KEY = /wdn_[A-Za-z0-9_-]{20,}/g;
const tmpDirs: string[] = [];
const databases: string[] = [];
const roles: string[] = [];
const running = new Set<RunningProcess>();

afterEach(async () => {
  for (const proc of running) await proc.stop('SIGKILL');
  running.clear();
});
afterAll(async () => {
  for (const name of databases) await dropDatabase(name);
  for (const role of roles) await adminQuery(`DROP ROLE IF EXISTS "${role}"`);
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

/** A database name nobody created yet; dropped after the file. */
function freshDatabase(): string {
  const name = uniqueName('warden_first');
  databases.push(name);
  return name;
}

/** `<fresh temporary directory>/.data`, which does not exist yet (as in a fresh clone). */
function freshDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-first-hour-'));
  tmpDirs.push(dir);
  return path.join(dir, '.data');
}

interface Start {
  proc: RunningProcess;
  base: string;
}

async function stackEnv(dataDir: string, url: string, secretKey: string) {
  const [api, grpc, postgres, ssh, http] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  return {
    base: `http://127.0.0.1:${api}`,
    env: {
      DATABASE_URL: url,
      WARDEN_SECRET_KEY: secretKey,
      WARDEN_DATA_DIR: dataDir,
      WARDEN_API_ADDR: `127.0.0.1:${api}`,
      WARDEN_GRPC_ADDR: `127.0.0.1:${grpc}`,
      WARDEN_POSTGRES_ADDR: `127.0.0.1:${postgres}`,
      WARDEN_SSH_ADDR: `127.0.0.1:${ssh}`,
      WARDEN_HTTP_PROXY_ADDR: `127.0.0.1:${http}`,
    },
  };
}

/** `pnpm start`, waited for until it says it runs. */
async function start(dataDir: string, url: string, secretKey: string): Promise<Start> {
  const { base, env } = await stackEnv(dataDir, url, secretKey);
  const proc = startProcess('apps/warden/src/main.ts', env);
  running.add(proc);
  await proc.waitFor(/Ctrl-C stops everything/, 120_000);
  return { proc, base };
}

/** The same start, SIGKILLed by itself at `phase` (test/first-hour/crash-at.ts); resolves once it is dead. */
async function startKilledAt(phase: string, dataDir: string, url: string, secretKey: string): Promise<string> {
  const { env } = await stackEnv(dataDir, url, secretKey);
  const proc = startProcess('test/first-hour/crash-at.ts', env, [], [phase]);
  running.add(proc);
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) resolve(proc.child.signalCode);
    else proc.child.once('exit', (_code, sig) => resolve(sig));
  });
  running.delete(proc);
  expect(signal, proc.output()).toBe('SIGKILL');
  expect(proc.output()).toContain(`[test] SIGKILL at ${phase}`);
  return proc.output();
}

function keysIn(output: string): string[] {
  return output.match(KEY) ?? [];
}

async function status(base: string, key: string, route = '/api/agents'): Promise<number> {
  return (await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${key}` } })).status;
}

async function query(database: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: databaseUrl(database) });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl('postgres') });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

async function adminRows(database: string): Promise<number> {
  return (await query(database, `SELECT count(*)::int AS n FROM "Identity" WHERE role = 'admin'`)).rows[0].n;
}

async function appliedMigrations(database: string): Promise<number> {
  const sql = 'SELECT count(*)::int AS n FROM _prisma_migrations WHERE finished_at IS NOT NULL';
  return (await query(database, sql)).rows[0].n;
}

function secretKey(): string {
  return randomBytes(32).toString('base64');
}

/** `pnpm admin:recover` as its script runs it, minus the Prisma generate step (see the top). */
async function recover(env: Record<string, string>, args: string[] = []) {
  const proc = startProcess('apps/api/src/admin-recover.ts', env, [], args);
  const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));
  return { code, output: proc.output() };
}

describe('first start with DATABASE_URL', () => {
  it('from a fresh directory creates the missing database and the data directory, comes up and shows the admin key once', async () => {
    const name = freshDatabase();
    const url = databaseUrl(name);
    const dataDir = freshDataDir();
    const secret = secretKey();
    expect(await databaseExists(name)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);

    const first = await start(dataDir, url, secret);
    // A log line (pino writes it asynchronously, so it may trail the banner).
    await first.proc.waitFor(/"database":"[^"]+","msg":"created the control-plane database"/, 10_000);
    const output = first.proc.output();
    expect(await databaseExists(name)).toBe(true);
    expect(output).not.toContain('ENOENT');
    expect((statSync(path.join(dataDir, 'agent-default.key')).mode & 0o777).toString(8)).toBe('600');

    const keys = keysIn(output);
    expect(keys).toHaveLength(1);
    const [key] = keys as [string];
    expect(output).toContain(`It is shown only this once; keep it:\n  ${key}\n`);
    // Shown before the stack reports it runs (before the admin was committed, see the next tests).
    expect(output.indexOf(key)).toBeLessThan(output.indexOf('Warden is running'));

    expect(await (await fetch(`${first.base}/readyz`)).json()).toEqual({ status: 'ready', database: 'ok' });
    const agents = await fetch(`${first.base}/api/agents`, { headers: { authorization: `Bearer ${key}` } });
    expect(agents.status).toBe(200);
    expect(((await agents.json()) as { name: string }[]).map((a) => a.name)).toContain('default');
    expect(await first.proc.stop('SIGTERM')).toBe(0);
    running.delete(first.proc);

    // The next start: nothing created, no key shown, the first key still signs in.
    const second = await start(dataDir, url, secret);
    expect(second.proc.output()).not.toContain('created the control-plane database');
    expect(keysIn(second.proc.output())).toEqual([]);
    expect(await status(second.base, key)).toBe(200);
  }, 300_000);

  it('with a role that may not create the database fails with one line naming the database and the fix', async () => {
    const name = freshDatabase();
    const role = uniqueName('warden_nocreate');
    roles.push(role);
    await adminQuery(`CREATE ROLE "${role}" LOGIN NOCREATEDB`);
    const url = new URL(databaseUrl(name));
    url.username = role;
    const server = `${url.hostname}:${url.port || '5432'}`;
    const { env } = await stackEnv(freshDataDir(), url.toString(), secretKey());
    const proc = startProcess('apps/warden/src/main.ts', env);
    const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));

    expect(code).toBe(1);
    const lines = proc
      .output()
      .split('\n')
      .filter((line) => line.trim());
    expect(lines).toEqual([
      `warden failed to start: database "${name}" does not exist on ${server} and role "${role}" may not create it ` +
        `(permission denied): create it as a superuser or a role with CREATEDB, e.g. ` +
        `\`createdb -h ${url.hostname} -p ${url.port || '5432'} -O ${role} ${name}\` ` +
        `(in psql: \`CREATE DATABASE "${name}" OWNER "${role}";\`), then try again`,
    ]);
    expect(await databaseExists(name)).toBe(false);
  }, 120_000);
});

describe('a first start killed between migrating and showing the admin key', () => {
  it('killed after migrating stores no admin; the next start shows a key that works', async () => {
    const name = freshDatabase();
    const url = databaseUrl(name);
    const dataDir = freshDataDir();
    const secret = secretKey();

    const killed = await startKilledAt('migrated', dataDir, url, secret);
    // Migrated (read from the database: a log line still in pino's buffer dies with the process).
    expect(await appliedMigrations(name)).toBeGreaterThan(0);
    expect(keysIn(killed)).toEqual([]);
    expect(await adminRows(name)).toBe(0);

    const next = await start(dataDir, url, secret);
    const keys = keysIn(next.proc.output());
    expect(keys).toHaveLength(1);
    expect(await status(next.base, keys[0]!)).toBe(200);
  }, 300_000);

  it('killed after showing the key but before storing it stores no admin; the next start shows a new key that works', async () => {
    const name = freshDatabase();
    const url = databaseUrl(name);
    const dataDir = freshDataDir();
    const secret = secretKey();

    const killed = await startKilledAt('admin-key-shown', dataDir, url, secret);
    const [shown] = keysIn(killed);
    expect(shown).toBeDefined();
    expect(await adminRows(name)).toBe(0);
    const audit = await query(name, `SELECT count(*)::int AS n FROM "AuditEntry" WHERE action = 'admin.bootstrap'`);
    expect(audit.rows[0].n).toBe(0);

    const next = await start(dataDir, url, secret);
    const keys = keysIn(next.proc.output());
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toBe(shown);
    expect(await status(next.base, keys[0]!)).toBe(200);
    // The key of the killed start was never stored: it signs nobody in.
    expect(await status(next.base, shown!)).toBe(401);
  }, 300_000);

  it('killed after storing the admin (where the missing data folder used to crash it): the key was shown and works next time', async () => {
    const name = freshDatabase();
    const url = databaseUrl(name);
    const dataDir = freshDataDir();
    const secret = secretKey();

    const killed = await startKilledAt('admin-ready', dataDir, url, secret);
    const keys = keysIn(killed);
    expect(keys).toHaveLength(1);
    expect(await adminRows(name)).toBe(1);

    const next = await start(dataDir, url, secret);
    expect(keysIn(next.proc.output())).toEqual([]);
    expect(await status(next.base, keys[0]!)).toBe(200);
  }, 300_000);
});

describe('admin recovery (pnpm admin:recover) with DATABASE_URL', () => {
  it('issues a new admin key while the stack runs, audits it, re-enables a disabled admin and creates a named one', async () => {
    const name = freshDatabase();
    const url = databaseUrl(name);
    const dataDir = freshDataDir();
    const stack = await start(dataDir, url, secretKey());
    const [firstKey] = keysIn(stack.proc.output()) as [string];

    // The operator lost the first key: recovery on the server, with the same DATABASE_URL.
    const first = await recover({ DATABASE_URL: url });
    expect(first.code, first.output).toBe(0);
    expect(first.output).toMatch(/identity "admin" already an active admin, new API key "recovery-\d{8}T\d{6}Z"/);
    const recovered = keysIn(first.output);
    expect(recovered).toHaveLength(1);
    expect(recovered[0]).not.toBe(firstKey);
    expect(await status(stack.base, recovered[0]!)).toBe(200);
    // Keys issued before are left alone.
    expect(await status(stack.base, firstKey)).toBe(200);

    const audit = await fetch(`${stack.base}/api/audit?action=admin.recover`, {
      headers: { authorization: `Bearer ${recovered[0]}` },
    });
    const items = ((await audit.json()) as { items: { actor: unknown; target: unknown; details: any }[] }).items;
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      actor: { id: null, name: 'system' },
      target: { type: 'identity', name: 'admin' },
      details: { via: 'admin:recover', identityCreated: false, apiKey: { prefix: recovered[0]!.slice(0, 10) } },
    });
    const event = await query(name, `SELECT envelope FROM "Event" WHERE type = 'admin.change'`);
    expect(event.rows.map((r) => r.envelope.data.action)).toEqual(['admin.recover']);

    // Every admin disabled: no key signs in, recovery makes `admin` an active admin again.
    await query(name, `UPDATE "Identity" SET status = 'disabled' WHERE name = 'admin'`);
    expect(await status(stack.base, recovered[0]!)).toBe(401);
    const again = await recover({ DATABASE_URL: url });
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain('identity "admin" made an active admin (was admin, disabled)');
    expect(await status(stack.base, keysIn(again.output)[0]!)).toBe(200);

    // A named identity that does not exist yet is created as an admin.
    const named = await recover({ DATABASE_URL: url }, ['--identity', 'ops-lead']);
    expect(named.code, named.output).toBe(0);
    expect(named.output).toContain('identity "ops-lead" created as an admin');
    const me = await fetch(`${stack.base}/api/audit?action=admin.recover&targetType=identity`, {
      headers: { authorization: `Bearer ${keysIn(named.output)[0]}` },
    });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { items: { target: { name: string } }[] }).items.map((i) => i.target.name)).toEqual([
      'ops-lead',
      'admin',
      'admin',
    ]);

    // A blocked identity (containment during an incident) is not unblocked by recovery.
    await query(
      name,
      `UPDATE "Identity" SET status = 'blocked', "blockedReason" = 'incident 7' WHERE name = 'ops-lead'`,
    );
    const blocked = await recover({ DATABASE_URL: url }, ['--identity', 'ops-lead']);
    expect(blocked.code).toBe(1);
    expect(blocked.output.trim()).toBe(
      'admin recovery failed: identity "ops-lead" is blocked (incident 7); recovery does not lift a block: ' +
        'recover into another identity (--identity <name>) and unblock it from there if that is intended',
    );
    const after = await query(name, `SELECT status FROM "Identity" WHERE name = 'ops-lead'`);
    expect(after.rows[0].status).toBe('blocked');
    const recoveries = await query(name, `SELECT count(*)::int AS n FROM "AuditEntry" WHERE action = 'admin.recover'`);
    expect(recoveries.rows[0].n).toBe(3);
  }, 300_000);

  it('says what to do, in one line, for a bad identity name or a database Warden never started on', async () => {
    const bad = await recover({ DATABASE_URL: databaseUrl('postgres') }, ['--identity', 'two words']);
    expect(bad.code).toBe(2);
    expect(bad.output.trim()).toBe(
      '--identity must be a Warden identity name (letters, digits, . _ -), got "two words"',
    );

    const name = freshDatabase();
    await adminQuery(`CREATE DATABASE "${name}"`);
    const empty = await recover({ DATABASE_URL: databaseUrl(name) });
    expect(empty.code).toBe(1);
    expect(empty.output.trim()).toBe(
      'admin recovery failed: the control-plane database has no Warden tables yet: start Warden once (`npx -y pnpm@10.34.8 start`), which creates the first admin and shows its key',
    );
  }, 120_000);
});
