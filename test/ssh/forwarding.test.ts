import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, type DataPath } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import type { SshClient } from './ssh-client.js';
import type { TargetSshd } from './target-sshd.js';
import { startSshTestbed } from './testbed.js';

// Local port forwarding (`ssh -L`) through the gateway: the real OpenSSH client
// forwards a local port to the local Postgres as seen from the target host, a real
// psql queries through it, and the recording keeps one ssh.forward event per
// forwarded connection. Connections without allowPortForwarding refuse it.
let dp: DataPath;
let target: TargetSshd;
let ssh: SshClient;
let key: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  ({ target, dp, ssh, key } = await startSshTestbed({
    tunnel: { allowPortForwarding: true },
    notunnel: { allowPortForwarding: false },
  }));
}, 180_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await dp?.close();
  await target?.stop();
});

/** `ssh -N` with a forward, running until stopped; its stderr is collected. */
function forwardingSsh(user: string, forward: string[]) {
  const child = spawn(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-p',
      String(dp.sshPort),
      '-o',
      'StrictHostKeyChecking=accept-new',
      '-o',
      `UserKnownHostsFile=${ssh.knownHosts}`,
      '-o',
      // INFO: OpenSSH reports a refused channel open ("open failed") at this level.
      'LogLevel=INFO',
      '-o',
      'BatchMode=yes',
      '-o',
      'ExitOnForwardFailure=yes',
      '-i',
      key,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'PreferredAuthentications=publickey',
      '-N',
      ...forward,
      `${user}@127.0.0.1`,
    ],
    { env: { PATH: process.env.PATH, HOME: ssh.dir }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return {
    stderr: () => stderr,
    exited,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function psqlOn(port: number, sql: string) {
  return run('psql', ['-X', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', dp.targetDb, '-Atc', sql], {
    env: { PGCONNECT_TIMEOUT: '20' },
    timeoutMs: 60_000,
  });
}

async function sealedEvents(connection: string, since: Date) {
  for (let i = 0; i < 200; i++) {
    const session = await dp.api.db.prisma.session.findFirst({
      where: { startedAt: { gte: since }, protocol: 'ssh', connection: { name: connection }, finalHash: { not: null } },
    });
    if (session) {
      const res = await dp.api.request('GET', `/api/sessions/${session.id}/events`);
      return res.body.events as { kind: string; payload: Record<string, unknown> }[];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no sealed ssh session on ${connection}`);
}

describe('ssh local port forwarding through the gateway', () => {
  it('forwards a local port to Postgres from the target host and records the forward', async () => {
    const since = new Date();
    const localPort = await freePort();
    const tunnel = forwardingSsh('tunnel', ['-L', `${localPort}:127.0.0.1:5432`]);
    const marker = `fwd${randomBytes(3).toString('hex')}`;
    // ssh opens the local port once logged in: retry until psql gets through.
    let res = await psqlOn(localPort, `select '${marker}'`);
    for (let i = 0; i < 100 && res.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      res = await psqlOn(localPort, `select '${marker}'`);
    }
    expect(res.code, `${res.stderr}\nssh: ${tunnel.stderr()}`).toBe(0);
    expect(res.stdout.trim()).toBe(marker);
    // A second connection over the same forward: a larger result, so flow control is exercised.
    const big = await psqlOn(
      localPort,
      `select count(*), sum(length(x)) from (select repeat('x', 1000) as x from generate_series(1, 2000)) s`,
    );
    expect(big.code, big.stderr).toBe(0);
    expect(big.stdout.trim()).toBe('2000|2000000');
    const rows = await psqlOn(localPort, `select repeat('y', 500) from generate_series(1, 3000)`);
    expect(rows.code, rows.stderr).toBe(0);
    expect(rows.stdout.trim().split('\n')).toHaveLength(3000);
    // psql exits once it has sent Terminate; each forward ends when the target side closes too.
    let live: { kind: string }[] = [];
    for (let i = 0; i < 300 && live.filter((e) => e.kind === 'ssh.forward').length < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const session = await dp.api.db.prisma.session.findFirst({
        where: { startedAt: { gte: since }, protocol: 'ssh', connection: { name: 'tunnel' } },
      });
      if (session) live = (await dp.api.request('GET', `/api/sessions/${session.id}/events`)).body.events;
    }
    await tunnel.stop();

    const events = await sealedEvents('tunnel', since);
    const forwards = events.filter((e) => e.kind === 'ssh.forward').map((e) => e.payload);
    // One event per forwarded connection (the three psql runs), each ended normally.
    expect(forwards.length, JSON.stringify(forwards)).toBe(3);
    const opened = forwards.filter((f) => f.error === undefined);
    expect(opened.length, JSON.stringify(forwards)).toBe(3);
    for (const f of opened) {
      expect(f).toMatchObject({ host: '127.0.0.1', port: 5432 });
      expect(f.bytesIn).toBeGreaterThan(0);
      expect(f.bytesOut).toBeGreaterThan(0);
    }
    expect(Math.max(...opened.map((f) => f.bytesOut as number))).toBeGreaterThan(1_500_000);
    // Where it went and how much, never what: the query text is not in the recording.
    expect(JSON.stringify(events)).not.toContain(marker);
  }, 180_000);

  it('refuses a forward the target cannot connect and records why', async () => {
    const since = new Date();
    const localPort = await freePort();
    const closedPort = await freePort();
    const tunnel = forwardingSsh('tunnel', ['-L', `${localPort}:127.0.0.1:${closedPort}`]);
    for (let i = 0; i < 100 && !/open failed/.test(tunnel.stderr()); i++) {
      expect((await psqlOn(localPort, 'select 1')).code).not.toBe(0);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(tunnel.stderr()).toMatch(/channel \d+: open failed: connect failed/);
    await tunnel.stop();
    const events = await sealedEvents('tunnel', since);
    expect(events.find((e) => e.kind === 'ssh.forward')?.payload).toEqual({
      channel: 0,
      host: '127.0.0.1',
      port: closedPort,
      bytesIn: 0,
      bytesOut: 0,
      error: 'the target could not open the forwarded connection',
    });
  }, 180_000);

  it('refuses local forwarding when the connection does not allow it', async () => {
    const since = new Date();
    const localPort = await freePort();
    const tunnel = forwardingSsh('notunnel', ['-L', `${localPort}:127.0.0.1:5432`]);
    let refusedSeen = false;
    for (let i = 0; i < 100 && !refusedSeen; i++) {
      const res = await psqlOn(localPort, 'select 1');
      expect(res.code).not.toBe(0);
      refusedSeen = /open failed/.test(tunnel.stderr());
      if (!refusedSeen) await new Promise((r) => setTimeout(r, 200));
    }
    expect(tunnel.stderr()).toMatch(/channel \d+: open failed: (connect failed|administratively prohibited)/);
    await tunnel.stop();
    const events = await sealedEvents('notunnel', since);
    expect(events.find((e) => e.kind === 'ssh.refused')?.payload).toEqual({
      channel: null,
      request: 'direct-tcpip',
      reason: 'port forwarding (127.0.0.1:5432) is not enabled on this connection (options.ssh.allowPortForwarding)',
    });
    expect(events.some((e) => e.kind === 'ssh.forward')).toBe(false);
  }, 180_000);

  it('refuses remote forwarding (-R) even when port forwarding is allowed, saying it is not supported yet', async () => {
    const since = new Date();
    const remote = forwardingSsh('tunnel', ['-R', `0:127.0.0.1:5432`]);
    const code = await remote.exited;
    expect(code).toBe(255);
    expect(remote.stderr()).toMatch(/remote port forwarding failed/);
    const events = await sealedEvents('tunnel', since);
    expect(events.find((e) => e.kind === 'ssh.refused')?.payload).toMatchObject({
      request: 'tcpip-forward',
      reason: expect.stringContaining('is not supported through Warden yet'),
    });
  }, 120_000);
});
