import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, startDataPath, type CommandResult, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { serverUrl } from '../support/postgres.js';
import { LivePsql } from '../support/live-psql.js';
import { startProcess } from '../support/processes.js';

// The gateway with its control-plane database out of reach: its DATABASE_URL goes through a TCP
// proxy this test owns, closed (connects refused) or turned into a black hole (connects never
// answered). New clients are refused with a class 57 SQLSTATE and a message that says nothing of
// the cause (Prisma's would name a source file, quote code and give the database's address); the
// gateway's log has the cause. A live session goes on; when the database is back, new sessions
// open without a restart. Real gateway and agent processes, real psql and OpenSSH clients.

const UNAVAILABLE = 'the access service is unavailable; try again shortly';
/** What must not reach a client: Prisma codes and names, source files, addresses. */
const INTERNALS = [
  /P1\d{3}/,
  /prisma/i,
  /invocation/i,
  /\.(ts|js|mjs|cjs)\b/,
  /\/[\w.-]+\//,
  /\d+\.\d+\.\d+\.\d+/,
  /:\d{2,5}\b/,
  /localhost/i,
  /reach database/i,
  /ECONN/,
];

/** The text fields of a driver's error: message, detail, hint, where, file, routine... */
function textFields(error: Error | null): string {
  if (!error) return '';
  return [error.message, ...Object.values(error).filter((v): v is string => typeof v === 'string')].join('\n');
}

function expectNothingInternal(text: string): void {
  for (const pattern of INTERNALS) expect(text, `${pattern} in ${JSON.stringify(text)}`).not.toMatch(pattern);
}

/** A relay to the control-plane Postgres that the test can close or turn into a black hole. */
class ControlPlaneProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  private holding = false;

  private constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<ControlPlaneProxy> {
    const proxy = new ControlPlaneProxy(await freePort(), target);
    await proxy.open();
    return proxy;
  }

  /** Relays again (listening again on the same port if closed). */
  async open(): Promise<void> {
    if (this.holding) this.cutAll();
    this.holding = false;
    if (this.server) return;
    const server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Cuts every connection and stops listening: connects are refused. */
  async refuse(): Promise<void> {
    this.cutAll();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Cuts every connection; new ones are accepted and never answered. */
  hold(): void {
    this.holding = true;
    this.cutAll();
  }

  async close(): Promise<void> {
    await this.refuse();
  }

  private accept(client: net.Socket): void {
    this.track(client);
    if (this.holding) return;
    const upstream = net.connect(this.target);
    this.track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => this.sockets.delete(socket));
  }

  private cutAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

let dp: DataPath;
let proxy: ControlPlaneProxy;
let gatewayPid: number | undefined;
let sshDir: string;
let live: LivePsql;
let since: Date;

/** OpenSSH at its default log level (which prints banners), the token through SSH_ASKPASS. */
function ssh(method: 'password' | 'keyboard-interactive'): Promise<CommandResult> {
  return run(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-p',
      String(dp.sshPort),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=INFO',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      `PreferredAuthentications=${method}`,
      '-o',
      'NumberOfPasswordPrompts=1',
      '-o',
      'ConnectTimeout=20',
      '-T',
      'pg-test@127.0.0.1',
      'true',
    ],
    {
      env: {
        HOME: sshDir,
        SSH_ASKPASS: path.join(sshDir, 'askpass.sh'),
        SSH_ASKPASS_REQUIRE: 'force',
        DISPLAY: ':0',
        WARDEN_TEST_TOKEN: dp.adminKey,
      },
    },
  );
}

function alive(): boolean {
  return (
    dp.gateway.child.exitCode === null && dp.gateway.child.signalCode === null && dp.gateway.child.pid === gatewayPid
  );
}

beforeAll(async () => {
  dp = await startDataPath();
  const server = new URL(serverUrl);
  proxy = await ControlPlaneProxy.start({ host: server.hostname, port: Number(server.port || 5432) });
  // The data path's gateway again, on the same ports, with its control plane through the proxy.
  const viaProxy = new URL(dp.api.databaseUrl);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  await dp.gateway.stop();
  dp.gateway = startProcess('apps/gateway/src/main.ts', {
    DATABASE_URL: viaProxy.toString(),
    WARDEN_SECRET_KEY: dp.api.secretKey,
    WARDEN_POSTGRES_ADDR: `127.0.0.1:${dp.pgPort}`,
    WARDEN_GRPC_ADDR: `127.0.0.1:${dp.grpcPort}`,
    WARDEN_SSH_ADDR: `127.0.0.1:${dp.sshPort}`,
    WARDEN_DATA_DIR: dp.api.dataDir,
    WARDEN_DATABASE_CONNECT_TIMEOUT_MS: '2000',
    // Its periodic control-plane work (agent presence) runs during the outage too, and must fail quietly.
    WARDEN_AGENT_PRESENCE_INTERVAL_MS: '500',
    LOG_LEVEL: 'debug',
  });
  await dp.gateway.waitFor(/gateway listening/, 60_000);
  gatewayPid = dp.gateway.child.pid;
  // The agent dials the new gateway on its own.
  let ready: CommandResult | undefined;
  for (let i = 0; i < 120 && ready?.code !== 0; i++) {
    if (i) await sleep(250);
    ready = await dp.psql(['-At', '-c', 'SELECT 1']);
  }
  expect(ready?.code, ready?.stderr).toBe(0);
  sshDir = await mkdtemp(path.join(tmpdir(), 'warden-cp-ssh-'));
  await writeFile(path.join(sshDir, 'askpass.sh'), '#!/bin/sh\nprintf "%s\\n" "$WARDEN_TEST_TOKEN"\n');
  await chmod(path.join(sshDir, 'askpass.sh'), 0o700);
}, 180_000);

afterAll(async () => {
  await live?.quit();
  await proxy?.close();
  await dp?.close();
  if (sshDir) await rm(sshDir, { recursive: true, force: true });
});

describe('the control plane out of reach of the gateway', () => {
  it('refuses a new psql connection with 57P03 and a message that reveals nothing; the log has the cause', async () => {
    since = new Date();
    live = new LivePsql(dp.url());
    expect(await live.send("SELECT 'before';")).toBe('before');
    const logged = dp.gateway.output().length;
    await proxy.refuse();

    const refused = await dp.psql(['-At', '-c', 'SELECT 1']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe('');
    // psql's own words name the gateway's address; what the gateway said follows "FATAL:".
    const said = refused.stderr.slice(refused.stderr.indexOf('FATAL:') + 'FATAL:'.length).trim();
    expect(refused.stderr).toContain('FATAL:');
    expect(said).toBe(UNAVAILABLE);
    expectNothingInternal(said);

    // Every field of the ErrorResponse, as a driver gets it.
    const client = new pg.Client({ connectionString: dp.url() });
    const error = await client.connect().then(
      () => null,
      (e: pg.DatabaseError) => e,
    );
    await client.end().catch(() => {});
    expect(error).toBeInstanceOf(Error);
    expect(error!.code).toBe('57P03');
    expect(error!.severity).toBe('FATAL');
    expect(error!.message).toBe(UNAVAILABLE);
    expectNothingInternal(textFields(error));

    // The log has what the client was not told, at error level, with the client's address.
    const log = dp.gateway.output().slice(logged);
    const line = log.split('\n').find((l) => l.includes(`postgres client refused: ${UNAVAILABLE}`));
    expect(line, log.slice(-3000)).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 50, client: '127.0.0.1' });
    expect(line).toMatch(/P1001|Can't reach database server/);

    // The live session goes on; its events wait for the database.
    expect(await live.send("SELECT 'during the outage';")).toBe('during the outage');
    expect(alive()).toBe(true);
  }, 120_000);

  it('tells an SSH client the same, in a banner before the authentication failure', async () => {
    for (const method of ['password', 'keyboard-interactive'] as const) {
      const result = await ssh(method);
      expect(result.code, result.stderr).toBe(255);
      const lines = result.stderr.split(/\r?\n/);
      expect(lines, result.stderr).toContain(`Warden: ${UNAVAILABLE}`);
      expect(result.stderr).toContain('Permission denied');
      for (const pattern of [/P1\d{3}/, /prisma/i, /invocation/i, /\.(ts|js)\b/, /reach database/i, /ECONN/])
        expect(result.stderr).not.toMatch(pattern);
      expect(lines.filter((l) => l.startsWith('Warden:'))).toEqual([`Warden: ${UNAVAILABLE}`]);
    }
    expect(dp.gateway.output()).toContain('ssh authentication failed');
    expect(alive()).toBe(true);
  }, 120_000);

  it('refuses the same way when connects to the database are never answered (connect timeout)', async () => {
    await proxy.open();
    proxy.hold();
    const logged = dp.gateway.output().length;
    const client = new pg.Client({ connectionString: dp.url() });
    const error = await client.connect().then(
      () => null,
      (e: pg.DatabaseError) => e,
    );
    await client.end().catch(() => {});
    expect(error?.code).toBe('57P03');
    expect(error?.message).toBe(UNAVAILABLE);
    expectNothingInternal(textFields(error));
    const log = dp.gateway.output().slice(logged);
    expect(log).toContain(`postgres client refused: ${UNAVAILABLE}`);
    expect(log).toMatch(/Connection terminated due to connection timeout|timeout exceeded when trying to connect/);
    expect(alive()).toBe(true);
  }, 120_000);

  it('opens new sessions again once the database is back, without a restart; the live session is recorded whole', async () => {
    await proxy.open();
    const back = await dp.psql(['-At', '-c', "SELECT 'back'"]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout.trim()).toBe('back');
    // SSH authenticates again: the refusal is now the authorization's (pg-test is no SSH connection).
    const sshBack = await ssh('password');
    expect(sshBack.stderr).toContain('Warden: connection "pg-test" does not exist');
    expect(sshBack.stderr).not.toContain(UNAVAILABLE);

    expect(await live.send("SELECT 'after';")).toBe('after');
    expect(live.errors).toBe('');
    expect(await live.quit()).toBe(0);
    expect(alive()).toBe(true);

    // The two sessions that opened (the live one, and the one after) are sealed and verify.
    let sessions: { id: string; finalHash: string | null }[] = [];
    for (let i = 0; i < 300; i++) {
      sessions = await dp.api.db.prisma.session.findMany({ where: { startedAt: { gte: since } } });
      if (sessions.length >= 2 && sessions.every((s) => s.finalHash !== null)) break;
      await sleep(100);
    }
    expect(sessions.filter((s) => s.finalHash !== null).length).toBeGreaterThanOrEqual(2);
    for (const session of sessions) {
      const verify = await dp.api.request('GET', `/api/sessions/${session.id}/verify`);
      expect(verify.status).toBe(200);
      expect(verify.body, verify.text).toMatchObject({ ok: true });
    }
    const liveEvents = await dp.api.db.prisma.recordingChunk.findMany({
      where: { sessionId: { in: sessions.map((s) => s.id) } },
    });
    // The statement sent during the outage is in the recording (chunk events are JSON text).
    expect(liveEvents.map((c) => c.events).join('\n')).toContain("SELECT 'during the outage';");
  }, 120_000);
});
