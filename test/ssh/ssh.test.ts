import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../support/api.js';
import { startDataPath, type CommandResult, type DataPath } from '../support/data-path.js';
import { sshClient, type SshClient } from './ssh-client.js';
import { keygen, startTargetSshd, type TargetSshd } from './target-sshd.js';

// SSH through the gateway, end to end: a real OpenSSH sshd as the target, the real
// gateway and agent processes, the real `ssh` client, and the API for setup,
// reviews and recordings.
let dp: DataPath;
let target: TargetSshd;
let ssh: SshClient;
let approver: { id: string; token: string };
let userKey: string;

const execFileAsync = promisify(execFile);

beforeAll(async () => {
  target = await startTargetSshd();
  dp = await startDataPath({ policies: [], redisPrefix: `warden-test-${randomBytes(4).toString('hex')}` });
  ssh = await sshClient(dp.sshPort);
  expect((await dp.api.request('POST', '/api/groups', { body: { name: 'sre' } })).status).toBe(201);
  approver = await createIdentity(dp.api, 'sam', { role: 'user', groups: ['sre'] });
  for (const policy of [
    {
      name: 'ssh-guardrails',
      kind: 'guardrail',
      rules: {
        guardrails: [
          {
            type: 'deny_commands',
            name: 'dangerous-commands',
            detect: ['recursive_root_delete', 'pipe_to_shell', 'power_off', 'disk_wipe'],
          },
          { type: 'deny_commands', name: 'no-forbidden-tool', commands: ['forbidden-tool'] },
        ],
      },
    },
    {
      name: 'ssh-reviews',
      kind: 'review',
      rules: {
        reviews: [
          {
            type: 'require_command_review',
            name: 'held-commands',
            match: { pattern: 'held-marker' },
            approverGroups: ['sre'],
            timeoutSeconds: 30,
          },
        ],
      },
    },
  ]) {
    const created = await dp.api.request('POST', '/api/policies', { body: policy });
    expect(created.status, created.text).toBe(201);
  }
  const connection = await dp.api.request('POST', '/api/connections', {
    body: {
      name: 'box',
      type: 'ssh',
      agent: 'edge',
      config: {
        host: '127.0.0.1',
        port: target.port,
        user: target.user,
        privateKey: target.privateKey,
        hostKeyFingerprint: target.hostKeyFingerprint,
      },
      allowedGroups: ['sre'],
      policies: ['ssh-guardrails', 'ssh-reviews'],
    },
  });
  expect(connection.status, connection.text).toBe(201);
  // Same target, but pinned to a host key it does not have: the agent must refuse it.
  const wrongPin = await dp.api.request('POST', '/api/connections', {
    body: {
      name: 'box-wrong-pin',
      type: 'ssh',
      agent: 'edge',
      config: {
        host: '127.0.0.1',
        port: target.port,
        user: target.user,
        privateKey: target.privateKey,
        knownHosts: `[127.0.0.1]:${target.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl`,
      },
      policies: [],
    },
  });
  expect(wrongPin.status, wrongPin.text).toBe(201);
  userKey = path.join(ssh.dir, 'user_key');
  const { publicKey } = await keygen(userKey, 'sam@laptop');
  const registered = await dp.api.request('POST', '/api/ssh-keys', {
    token: approver.token,
    body: { name: 'laptop', publicKey },
  });
  expect(registered.status, registered.text).toBe(201);
  expect(registered.body.fingerprint).toMatch(/^SHA256:/);
}, 180_000);

afterAll(async () => {
  await dp?.close();
  await target?.stop();
});

async function sealedSessions(since: Date, count = 1) {
  for (let i = 0; i < 200; i++) {
    const sessions = await dp.api.db.prisma.session.findMany({
      where: { startedAt: { gte: since }, protocol: 'ssh', finalHash: { not: null } },
      orderBy: { startedAt: 'asc' },
    });
    if (sessions.length >= count) return sessions;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no sealed ssh session');
}

/** A command that prints 'started', sleeps a minute and prints 'never': ended within seconds, saying why. */
async function expectCutShort(running: Promise<CommandResult>, reason: string): Promise<void> {
  const started = Date.now();
  const res = await running;
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(res.stdout).toContain('started');
  expect(res.stdout).not.toContain('never');
  expect(res.stderr).toContain(reason);
  expect(res.code).not.toBe(0);
}

describe('ssh through the gateway', () => {
  it('runs an exec with the token as password: output, exit status, stdout and stderr apart', async () => {
    const res = await ssh.run('box', ['echo out-$((6*7)); echo err-line >&2; exit 3'], { token: dp.adminKey });
    expect(res.stdout, JSON.stringify(res)).toBe('out-42\n');
    expect(res.stderr).toBe('err-line\n');
    expect(res.code).toBe(3);
    // The gateway's host key was accepted once and is stable.
    const known = await readFile(ssh.knownHosts, 'utf8');
    expect(known).toMatch(/ssh-ed25519 /);
    const again = await ssh.run('box', ['true'], { token: dp.adminKey });
    expect(again.code).toBe(0);
  });

  it('logs in with a public key registered to the identity, naming the identity in the username', async () => {
    const res = await ssh.run('sam+box', ['id -un'], { key: userKey });
    expect(res.stderr).toBe('');
    expect(res.stdout.trim()).toBe(target.user);
    expect(res.code).toBe(0);
    const wrongName = await ssh.run('carl+box', ['id -un'], { key: userKey });
    expect(wrongName.code).not.toBe(0);
    expect(wrongName.stderr).toContain('names identity "carl"');
  });

  it('takes the token as a keyboard-interactive answer too', async () => {
    const res = await ssh.run('box', ['echo kbd-ok'], { token: dp.adminKey, keyboardInteractive: true });
    expect(res.stdout, res.stderr).toBe('kbd-ok\n');
    expect(res.code).toBe(0);
  });

  it('refuses a wrong token', async () => {
    const res = await ssh.run('box', ['echo should-not-run'], { token: 'wdn_not-a-real-token' });
    expect(res.code).toBe(255);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/Permission denied/);
  });

  it('refuses connections the identity may not use, with the reason on stderr', async () => {
    const outsider = await createIdentity(dp.api, 'olga', { role: 'user' });
    const res = await ssh.run('box', ['echo should-not-run'], { token: outsider.token });
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('olga is not allowed to use connection "box"');
    const unknown = await ssh.run('nope', ['true'], { token: dp.adminKey });
    expect(unknown.stderr).toContain('connection "nope" does not exist');
  });

  it.each([
    ['false && rm -rf /', 'dangerous-commands', 'a recursive delete of /'],
    ['curl -s http://127.0.0.1:9/x | sh', 'dangerous-commands', 'piped into sh'],
    ['forbidden-tool --now', 'no-forbidden-tool', 'it runs forbidden-tool'],
  ])('refuses a denied command (%s) with a message and a non-zero exit', async (command, rule, why) => {
    const res = await ssh.run('box', [command], { token: dp.adminKey });
    expect(res.code).toBe(126);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain(`Warden: command refused by rule "${rule}"`);
    expect(res.stderr).toContain(why);
  });

  it('holds a command for review, runs it after approval through the API', async () => {
    const command = 'echo held-marker-$((40+2))';
    const running = ssh.run('box', [command], { token: dp.adminKey });
    let review;
    for (let i = 0; i < 200 && !review; i++) {
      review = await dp.api.db.prisma.review.findFirst({ where: { statement: command, status: 'pending' } });
      if (!review) await new Promise((r) => setTimeout(r, 50));
    }
    expect(review, 'a pending review for the command').toBeTruthy();
    const approved = await dp.api.request('POST', `/api/reviews/${review!.id}/approve`, {
      token: approver.token,
      body: { comment: 'go' },
    });
    expect(approved.status, approved.text).toBe(200);
    const res = await running;
    expect(res.stdout).toBe('held-marker-42\n');
    expect(res.stderr).toContain(`waiting for review ${review!.id}`);
    expect(res.stderr).toContain(`/reviews/${review!.id}`);
    expect(res.code).toBe(0);
  });

  it('refuses a held command that is denied', async () => {
    const command = 'echo held-marker-denied';
    const running = ssh.run('box', [command], { token: dp.adminKey });
    let review;
    for (let i = 0; i < 200 && !review; i++) {
      review = await dp.api.db.prisma.review.findFirst({ where: { statement: command, status: 'pending' } });
      if (!review) await new Promise((r) => setTimeout(r, 50));
    }
    const denied = await dp.api.request('POST', `/api/reviews/${review!.id}/deny`, {
      token: approver.token,
      body: { comment: 'not today' },
    });
    expect(denied.status, denied.text).toBe(200);
    const res = await running;
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain(`review ${review!.id} was denied by sam: not today`);
    expect(res.code).toBe(126);
  });

  it('refuses a target whose host key does not match the pin, without naming host, user or secret', async () => {
    const res = await ssh.run('box-wrong-pin', ['echo should-not-run'], { token: dp.adminKey });
    expect(res.code).toBe(255);
    expect(res.stdout).toBe('');
    expect(res.stderr).toContain('host key does not match its known_hosts entry; refusing (fail closed)');
    expect(res.stderr).not.toContain('127.0.0.1');
    expect(res.stderr).not.toContain(String(target.port));
    expect(res.stderr).not.toMatch(new RegExp(`\\b${target.user}\\b`));
  });

  it('records an interactive PTY shell, served as asciicast that asciinema plays back', async () => {
    const since = new Date();
    const res = await ssh.run('box', [], {
      token: dp.adminKey,
      tty: true,
      input: 'echo interactive-$((20+3))\nexit 7\n',
    });
    expect(res.stdout).toContain('interactive-23');
    expect(res.code).toBe(7);
    const [session] = await sealedSessions(since);
    const res2 = await fetch(`${dp.api.baseUrl}/api/sessions/${session!.id}/asciicast`, {
      headers: { authorization: `Bearer ${dp.adminKey}` },
    });
    const cast = { status: res2.status, text: await res2.text() };
    expect(cast.status, cast.text).toBe(200);
    expect(res2.headers.get('content-type')).toContain('application/x-asciicast');
    const lines = cast.text.trim().split('\n');
    const header = JSON.parse(lines[0]!);
    expect(header).toMatchObject({ version: 2, width: expect.any(Number), height: expect.any(Number) });
    expect(lines.slice(1).every((l) => /^\[\d+(\.\d+)?,"[oir]",/.test(l))).toBe(true);
    const file = path.join(ssh.dir, 'session.cast');
    await writeFile(file, cast.text);
    // asciinema reads keys from /dev/tty even for `cat`: `script` gives it a terminal.
    const played = await execFileAsync('script', ['-q', '-e', '-c', `asciinema cat ${file}`, '/dev/null'], {
      env: { ...process.env, HOME: ssh.dir },
    });
    expect(played.stdout).toContain('interactive-23');

    // Same read rules as the other session reads: a user reads only their own sessions.
    const others = await dp.api.request('GET', `/api/sessions/${session!.id}/asciicast`, { token: approver.token });
    expect(others.status).toBe(403);
    const unknown = await dp.api.request('GET', `/api/sessions/00000000-0000-4000-8000-000000000000/asciicast`);
    expect(unknown.status).toBe(404);

    const verify = await dp.api.request('GET', `/api/sessions/${session!.id}/verify`);
    expect(verify.body.ok).toBe(true);
    const transcript = await dp.api.request('GET', `/api/sessions/${session!.id}/transcript`);
    expect(transcript.text).toContain('interactive shell');
    expect(transcript.text).toContain('exit status 7');
    const audit = await dp.api.db.prisma.auditEntry.findFirst({
      where: { action: 'session.asciicast', targetId: session!.id },
    });
    expect(audit).toBeTruthy();
  });

  it('records exec sessions: command, decision, output and exit status in the sealed stream', async () => {
    const since = new Date();
    await ssh.run('box', ['echo recorded-out; echo recorded-err >&2; exit 4'], { token: dp.adminKey });
    await ssh.run('box', ['forbidden-tool'], { token: dp.adminKey });
    const sessions = await sealedSessions(since, 2);
    const events = await dp.api.request('GET', `/api/sessions/${sessions[0]!.id}/events`);
    const kinds = events.body.events.map((e: { kind: string }) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['session.start', 'ssh.exec', 'ssh.data', 'ssh.exit', 'session.end']));
    const payloads = events.body.events.map((e: { payload: unknown }) => e.payload);
    expect(payloads).toContainEqual({ channel: 0, stream: 'stdout', data: 'recorded-out\n' });
    expect(payloads).toContainEqual({ channel: 0, stream: 'stderr', data: 'recorded-err\n' });
    expect(payloads).toContainEqual({ channel: 0, code: 4 });
    const blocked = await dp.api.request('GET', `/api/sessions/${sessions[1]!.id}/events`);
    const exec = blocked.body.events.find((e: { kind: string }) => e.kind === 'ssh.exec');
    expect(exec.payload.decision).toMatchObject({ action: 'block', rule: 'no-forbidden-tool' });
    const row = await dp.api.request('GET', `/api/sessions/${sessions[1]!.id}`);
    expect(row.body).toMatchObject({ protocol: 'ssh', counts: { blocked: 1, statements: 1 } });
    const noShell = await dp.api.request('GET', `/api/sessions/${sessions[0]!.id}/asciicast`);
    expect(noShell.status).toBe(404);
  });

  it('records the construct that kept a line from being judged, and publishes command.blocked without the line', async () => {
    const since = new Date();
    const line = 'eval "$(printf forbidden-tool)" # secret-arg-7f3a';
    const res = await ssh.run('box', [line], { token: dp.adminKey });
    expect(res.code).toBe(126);
    expect(res.stderr).toContain('eval runs a string as code');
    const [session] = await sealedSessions(since, 1);
    const events = await dp.api.request('GET', `/api/sessions/${session!.id}/events`);
    const exec = events.body.events.find((e: { kind: string }) => e.kind === 'ssh.exec');
    expect(exec.payload).toMatchObject({
      text: line,
      decision: { action: 'block', rule: 'dangerous-commands', construct: 'eval' },
    });
    const transcript = await dp.api.request('GET', `/api/sessions/${session!.id}/transcript`);
    expect(transcript.text).toContain('BLOCKED by rule "dangerous-commands" [eval]');
    let published: { data: Record<string, unknown>; session: { id: string } } | undefined;
    for (let i = 0; i < 50 && !published; i++) {
      const list = await dp.api.request('GET', '/api/events?types=command.blocked&limit=20');
      published = list.body.events.find((e: { session: { id: string } }) => e.session.id === session!.id);
      if (!published) await new Promise((r) => setTimeout(r, 100));
    }
    expect(published?.data).toMatchObject({
      rule: 'dangerous-commands',
      construct: 'eval',
      commandLength: line.length,
    });
    expect(JSON.stringify(published)).not.toContain('secret-arg-7f3a');
  });

  it('refuses sftp and port forwarding the connection does not enable', async () => {
    const sftp = await ssh.run('box', ['-s', 'sftp'], { token: dp.adminKey });
    expect(sftp.code).not.toBe(0);
  });

  it('ends a live session when it is killed through the API', async () => {
    const since = new Date();
    const running = ssh.run('box', ['echo started; sleep 60; echo never'], { token: dp.adminKey, timeoutMs: 90_000 });
    let live;
    for (let i = 0; i < 200 && !live; i++) {
      live = await dp.api.db.prisma.session.findFirst({
        where: { startedAt: { gte: since }, protocol: 'ssh', status: 'active' },
      });
      if (!live) await new Promise((r) => setTimeout(r, 50));
    }
    expect(live).toBeTruthy();
    // Kill once the command runs on the target (its first output is in the recording).
    await expect
      .poll(
        async () =>
          (await dp.api.request('GET', `/api/sessions/${live!.id}/events`)).body.events.some(
            (e: { kind: string; payload: { data?: string } }) =>
              e.kind === 'ssh.data' && e.payload.data?.includes('started'),
          ),
        { timeout: 20_000, interval: 100 },
      )
      .toBe(true);
    const killed = await dp.api.request('POST', `/api/sessions/${live!.id}/kill`, { body: { reason: 'drill' } });
    expect(killed.status, killed.text).toBeLessThan(300);
    await expectCutShort(running, 'drill');
  });

  it('removing a registered key ends the live sessions it opened, not those of the same identity’s token', async () => {
    const spareKey = path.join(ssh.dir, 'spare_key');
    const { publicKey } = await keygen(spareKey, 'sam@spare');
    const registered = await dp.api.request('POST', '/api/ssh-keys', {
      token: approver.token,
      body: { name: 'spare', publicKey },
    });
    expect(registered.status, registered.text).toBe(201);
    const since = new Date();
    const command = ['echo started; sleep 60; echo never'];
    const byKey = ssh.run('sam+box', command, { key: spareKey, timeoutMs: 90_000 });
    const byToken = ssh.run('box', command, { token: approver.token, timeoutMs: 90_000 });
    // Both commands run on the target (their first output is recorded) before the key goes.
    const running = async () => {
      const sessions = await dp.api.db.prisma.session.findMany({
        where: { startedAt: { gte: since }, protocol: 'ssh', status: 'active' },
      });
      let started = 0;
      for (const session of sessions) {
        const { body } = await dp.api.request('GET', `/api/sessions/${session.id}/events`);
        if (body.events.some((e: { kind: string; payload: { data?: string } }) => e.payload.data?.includes('started')))
          started += 1;
      }
      return { sessions, started };
    };
    await expect.poll(async () => (await running()).started, { timeout: 20_000, interval: 100 }).toBe(2);
    const removed = await dp.api.request('DELETE', `/api/ssh-keys/${registered.body.id}`, { token: approver.token });
    expect(removed.status, removed.text).toBe(204);

    await expectCutShort(byKey, 'the SSH key was removed');
    // The same identity's session opened with its token goes on: once the ended session's row is
    // written (just after its client was told), exactly one stays active, and killing it ends the
    // token's command.
    await expect.poll(async () => (await running()).sessions.length, { timeout: 10_000, interval: 100 }).toBe(1);
    const { sessions } = await running();
    const killed = await dp.api.request('POST', `/api/sessions/${sessions[0]!.id}/kill`, { body: { reason: 'done' } });
    expect(killed.status, killed.text).toBeLessThan(300);
    await expectCutShort(byToken, 'done');
    // And the removed key no longer logs in.
    const again = await ssh.run('sam+box', ['true'], { key: spareKey });
    expect(again.code).not.toBe(0);
  });

  it("never lets the target's credentials or the caller's token reach a client or a log", async () => {
    const keyBody = target.privateKey
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'))
      .join('');
    const keyLines = target.privateKey.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    const haystacks = {
      gateway: dp.gateway.output(),
      agent: dp.agent.output(),
      api: dp.api.logs.join(''),
      clients: ssh.outputs.join('\n'),
      target: target.output(),
    };
    for (const [name, text] of Object.entries(haystacks)) {
      for (const line of keyLines) expect(text.includes(line), `${name} log holds the target key`).toBe(false);
      expect(text.includes(keyBody), name).toBe(false);
      if (name !== 'api') expect(text.includes(dp.adminKey), `${name} log holds the admin token`).toBe(false);
    }
    const connection = await dp.api.request('GET', '/api/connections/box');
    expect(connection.text).not.toContain(keyLines[0]!);
    expect(connection.body.secrets).toEqual({ privateKey: { source: 'stored' } });
    const sessions = await dp.api.db.prisma.session.findMany({ where: { protocol: 'ssh' } });
    for (const s of sessions) {
      const exported = await dp.api.request('GET', `/api/sessions/${s.id}/export`);
      for (const line of keyLines) expect(exported.text.includes(line)).toBe(false);
      expect(exported.text.includes(dp.adminKey)).toBe(false);
    }
  });
});
