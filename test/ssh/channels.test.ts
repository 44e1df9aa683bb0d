import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataPath } from '../support/data-path.js';
import type { SshClient } from './ssh-client.js';
import type { TargetSshd } from './target-sshd.js';
import { startSshTestbed } from './testbed.js';

// What an SSH session carries besides a plain exec: terminal resizes and signals
// (driven with the ssh2 client library, which can send them without a terminal),
// SFTP when the connection allows it (real sftp client), and search by command.
let dp: DataPath;
let target: TargetSshd;
let ssh: SshClient;
let key: string;

beforeAll(async () => {
  ({ target, dp, ssh, key } = await startSshTestbed({ files: { allowSftp: true }, nofiles: { allowSftp: false } }));
}, 180_000);

afterAll(async () => {
  await dp?.close();
  await target?.stop();
});

function connect(): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port: dp.sshPort, username: 'files', password: dp.adminKey });
  });
}

/** Collects a channel's stdout until `pattern` shows up. */
function waitFor(channel: ClientChannel, pattern: RegExp, seen: { text: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got ${seen.text}`)), 20_000);
    const check = () => {
      if (pattern.test(seen.text)) {
        clearTimeout(timer);
        channel.off('data', onData);
        resolve();
      }
    };
    const onData = (d: Buffer) => {
      seen.text += d.toString();
      check();
    };
    channel.on('data', onData);
    check();
  });
}

describe('ssh channels through the gateway', () => {
  it('relays window changes to the PTY and records them for the asciicast', async () => {
    const since = new Date();
    const client = await connect();
    const shell = await new Promise<ClientChannel>((resolve, reject) =>
      client.shell({ term: 'xterm', rows: 24, cols: 80 }, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
    const seen = { text: '' };
    shell.write('stty size\n');
    await waitFor(shell, /24 80/, seen);
    shell.setWindow(30, 100, 0, 0);
    await new Promise((r) => setTimeout(r, 300));
    shell.write('stty size\n');
    await waitFor(shell, /30 100/, seen);
    const exited = new Promise((resolve) => shell.on('exit', (code: number) => resolve(code)));
    shell.write('exit 5\n');
    expect(await exited).toBe(5);
    client.end();

    let session;
    for (let i = 0; i < 200 && !session; i++) {
      session = await dp.api.db.prisma.session.findFirst({
        where: { startedAt: { gte: since }, protocol: 'ssh', finalHash: { not: null } },
      });
      if (!session) await new Promise((r) => setTimeout(r, 100));
    }
    const cast = await dp.api.request('GET', `/api/sessions/${session!.id}/asciicast`);
    expect(cast.status).toBe(200);
    const lines = cast.text.trim().split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ version: 2, width: 80, height: 24, env: { TERM: 'xterm' } });
    expect(lines).toContainEqual(expect.stringMatching(/^\[[\d.]+,"r","100x30"\]$/));
  });

  it('relays a signal to the target and records it', async () => {
    const since = new Date();
    const client = await connect();
    const channel = await new Promise<ClientChannel>((resolve, reject) =>
      client.exec('echo ready; exec sleep 2', (err, ch) => (err ? reject(err) : resolve(ch))),
    );
    const seen = { text: '' };
    await waitFor(channel, /ready/, seen);
    const exit = new Promise<number | null>((resolve) => channel.on('exit', (code: number | null) => resolve(code)));
    channel.signal('TERM');
    // This sshd refuses to deliver signals ("session signalling requires privilege
    // separation"), so it is the request reaching the target that is checked here.
    await expect.poll(() => target.output(), { timeout: 10_000 }).toMatch(/session_signal_req/);
    expect(await exit).toBe(0);
    client.end();
    let events: { kind: string; payload: Record<string, unknown> }[] = [];
    for (let i = 0; i < 100 && !events.some((e) => e.kind === 'ssh.signal'); i++) {
      const session = await dp.api.db.prisma.session.findFirst({
        where: { startedAt: { gte: since }, protocol: 'ssh', finalHash: { not: null } },
      });
      if (session) events = (await dp.api.request('GET', `/api/sessions/${session.id}/events`)).body.events;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(events.find((e) => e.kind === 'ssh.signal')?.payload).toEqual({ channel: 0, signal: 'TERM' });
  });

  it('relays SFTP when the connection allows it and refuses it otherwise', async () => {
    const since = new Date();
    const local = path.join(ssh.dir, 'upload.txt');
    await writeFile(local, 'uploaded through warden\n');
    const remote = path.join(target.dir, 'uploaded.txt');
    const listed = await ssh.sftp('files', `put ${local} ${remote}\nls -1 ${target.dir}\nbye\n`, key);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('sshd_config');
    expect(await readFile(remote, 'utf8')).toBe('uploaded through warden\n');
    // File names are recorded (contents are not).
    let ops: { op: string; path: string; write?: boolean }[] = [];
    for (let i = 0; i < 100 && !ops.length; i++) {
      const session = await dp.api.db.prisma.session.findFirst({
        where: { startedAt: { gte: since }, protocol: 'ssh', connection: { name: 'files' }, finalHash: { not: null } },
      });
      if (session) {
        const events = (await dp.api.request('GET', `/api/sessions/${session.id}/events`)).body.events;
        ops = events.filter((e: { kind: string }) => e.kind === 'ssh.sftp').map((e: { payload: never }) => e.payload);
      } else await new Promise((r) => setTimeout(r, 100));
    }
    expect(ops).toContainEqual({ channel: 0, op: 'open', path: remote, write: true });
    expect(ops.find((o) => o.op === 'opendir')?.path).toMatch(new RegExp(`^${target.dir}/?$`));
    const refused = await ssh.sftp('nofiles', `ls -1 ${target.dir}\nbye\n`, key);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).not.toContain('sshd_config');
    let event;
    for (let i = 0; i < 100 && !event; i++) {
      const sessions = await dp.api.db.prisma.session.findMany({
        where: { protocol: 'ssh', connection: { name: 'nofiles' }, finalHash: { not: null } },
        select: { id: true },
      });
      for (const s of sessions) {
        const events = await dp.api.request('GET', `/api/sessions/${s.id}/events`);
        event ??= events.body.events.find((e: { kind: string }) => e.kind === 'ssh.refused');
      }
      if (!event) await new Promise((r) => setTimeout(r, 100));
    }
    expect(event?.payload).toMatchObject({
      request: 'subsystem sftp',
      reason: 'SFTP is not enabled on this connection (options.ssh.allowSftp)',
    });
  });

  it('finds sessions by the commands they ran', async () => {
    const marker = `needle${randomBytes(3).toString('hex')}`;
    const res = await ssh.run('files', [`echo ${marker}`], { key });
    expect(res.stdout).toBe(`${marker}\n`);
    let items: { id: string; protocol: string }[] = [];
    for (let i = 0; i < 100 && !items.length; i++) {
      items = (await dp.api.request('GET', `/api/sessions?q=${marker}`)).body.items;
      if (!items.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(items).toHaveLength(1);
    expect(items[0]!.protocol).toBe('ssh');
  });

  it('relays binary output byte for byte and still records the session', async () => {
    const since = new Date();
    const res = await ssh.run('files', ["printf 'a\\000b\\377c'"], { key });
    // The client got the NUL as it is (the \\377 byte shows as U+FFFD only because the test decodes UTF-8).
    expect(res.stdout).toBe('a\u0000b\ufffdc');
    let events: { kind: string; payload: Record<string, unknown> }[] = [];
    for (let i = 0; i < 100 && !events.length; i++) {
      const session = await dp.api.db.prisma.session.findFirst({
        where: { startedAt: { gte: since }, protocol: 'ssh', finalHash: { not: null } },
      });
      if (session) events = (await dp.api.request('GET', `/api/sessions/${session.id}/events`)).body.events;
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(events.find((e) => e.kind === 'ssh.data')?.payload).toEqual({
      channel: 0,
      stream: 'stdout',
      data: 'a\ufffdb\ufffdc',
    });
  });

  it('judges the next exec of a live SSH connection by policies changed meanwhile', async () => {
    const client = await connect();
    const exec = (command: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve, reject) =>
        client.exec(command, (err, ch) => {
          if (err) return reject(err);
          let stderr = '';
          let code: number | null = null;
          ch.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          ch.on('exit', (c: number | null) => (code = c));
          ch.on('close', () => resolve({ code, stderr }));
          ch.resume();
        }),
      );
    expect((await exec('touch /dev/null')).code).toBe(0);
    const policy = await dp.api.request('POST', '/api/policies', {
      body: {
        name: 'no-touch',
        kind: 'guardrail',
        rules: { guardrails: [{ type: 'deny_commands', name: 'no-touch', commands: ['touch'] }] },
      },
    });
    expect(policy.status, policy.text).toBe(201);
    const attached = await dp.api.request('PATCH', '/api/connections/files', { body: { policies: ['no-touch'] } });
    expect(attached.status, attached.text).toBe(200);
    let refused = { code: 0 as number | null, stderr: '' };
    for (let i = 0; i < 50 && refused.code === 0; i++) {
      refused = await exec('touch /dev/null');
      if (refused.code === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(refused.code).toBe(126);
    expect(refused.stderr).toContain('command refused by rule "no-touch"');
    client.end();
  });

  it('streams large output intact under flow control, and measures it against direct ssh', async () => {
    const file = path.join(target.dir, 'big.bin');
    const size = 48 * 1024 * 1024;
    const made = await ssh.run('nofiles', [`head -c ${size} /dev/urandom > ${file} && sha256sum ${file}`], { key });
    const expected = made.stdout.split(' ')[0];
    const read = async (client: ssh2.Client) => {
      const started = performance.now();
      const hash = createHash('sha256');
      let bytes = 0;
      await new Promise<void>((resolve, reject) =>
        client.exec(`cat ${file}`, (err, ch) => {
          if (err) return reject(err);
          ch.on('data', (d: Buffer) => {
            bytes += d.length;
            hash.update(d);
          });
          ch.on('close', () => resolve());
        }),
      );
      return { ms: performance.now() - started, bytes, sha: hash.digest('hex') };
    };
    const direct = await new Promise<ssh2.Client>((resolve, reject) => {
      const c = new ssh2.Client();
      c.once('ready', () => resolve(c)).once('error', reject);
      c.connect({ host: '127.0.0.1', port: target.port, username: target.user, privateKey: target.privateKey });
    });
    const viaGateway = await connect();
    const execMs = async (client: ssh2.Client) => {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        await new Promise<void>((resolve, reject) =>
          client.exec('true', (err, ch) => (err ? reject(err) : ch.on('close', () => resolve()).resume())),
        );
        times.push(performance.now() - t0);
      }
      return times.sort((a, b) => a - b)[2]!;
    };
    const through = await read(viaGateway);
    const baseline = await read(direct);
    const execThrough = await execMs(viaGateway);
    const execDirect = await execMs(direct);
    viaGateway.end();
    direct.end();
    expect(through.bytes).toBe(size);
    expect(through.sha).toBe(expected);
    const mbps = (r: { ms: number }) => (size / 1024 / 1024 / (r.ms / 1000)).toFixed(1);
    console.log(
      `ssh cat ${size / 1024 / 1024} MiB: gateway ${mbps(through)} MiB/s, direct ${mbps(baseline)} MiB/s; ` +
        `exec 'true' median: gateway ${execThrough.toFixed(0)} ms, direct ${execDirect.toFixed(0)} ms`,
    );
  }, 180_000);

  it('refuses interactive shells when a rule says interactive: true, exec still runs', async () => {
    const policy = await dp.api.request('POST', '/api/policies', {
      body: {
        name: 'no-shells',
        kind: 'guardrail',
        rules: { guardrails: [{ type: 'deny_commands', name: 'no-shells', interactive: true }] },
      },
    });
    expect(policy.status, policy.text).toBe(201);
    const attached = await dp.api.request('PATCH', '/api/connections/nofiles', { body: { policies: ['no-shells'] } });
    expect(attached.status, attached.text).toBe(200);
    const shell = await ssh.run('nofiles', [], { key, tty: true, input: 'echo should-not-run\nexit\n' });
    expect(shell.code).toBe(126);
    expect(shell.stderr).toContain('interactive shells are refused by rule "no-shells"');
    expect(shell.stdout).not.toContain('should-not-run');
    const exec = await ssh.run('nofiles', ['echo exec-ok'], { key });
    expect(exec.stdout).toBe('exec-ok\n');
  });
});
