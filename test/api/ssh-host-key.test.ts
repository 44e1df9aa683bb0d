import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, startTestApi, type TestApi } from '../support/api.js';
import { run } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { startProcess, type RunningProcess } from '../support/processes.js';

// GET /api/ssh/host-key against a real gateway process: what the API says is the key the
// gateway's SSH listener presents, and the same fingerprint its start log prints.
let api: TestApi;
let alice: { token: string };
let gateway: RunningProcess | undefined;
let sshPort: number;
const scratch = mkdtempSync(path.join(tmpdir(), 'warden-host-key-'));

beforeAll(async () => {
  api = await startTestApi();
  alice = await createIdentity(api, 'alice');
});
afterAll(async () => {
  await gateway?.stop();
  await api?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** `ssh` with only `knownHosts` trusted: how far it gets tells whether the host key matched. */
function sshWith(knownHostsLine: string, name: string) {
  const file = path.join(scratch, name);
  writeFileSync(file, knownHostsLine + '\n');
  return run(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-p',
      String(sshPort),
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${file}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=20',
      'nobody@127.0.0.1',
      'true',
    ],
    { timeoutMs: 60_000 },
  );
}

describe('GET /api/ssh/host-key', () => {
  it('answers 401 without a token, and 503 saying why before any gateway made the key', async () => {
    expect((await api.request('GET', '/api/ssh/host-key', { token: null })).status).toBe(401);
    const early = await api.request('GET', '/api/ssh/host-key', { token: alice.token });
    expect(early.status).toBe(503);
    expect(early.body.message).toBe('no gateway has started yet: the first one to start generates the SSH host key');
  });

  it("gives any signed-in user the gateway's key: the one its SSH listener presents and its start log prints", async () => {
    sshPort = await freePort();
    gateway = startProcess('apps/gateway/src/main.ts', {
      DATABASE_URL: api.databaseUrl,
      WARDEN_SECRET_KEY: api.secretKey,
      WARDEN_POSTGRES_ADDR: `127.0.0.1:${await freePort()}`,
      WARDEN_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
      WARDEN_SSH_ADDR: `127.0.0.1:${sshPort}`,
      WARDEN_HTTP_PROXY_ADDR: `127.0.0.1:${await freePort()}`,
      WARDEN_DATA_DIR: api.dataDir,
    });
    await gateway.waitFor(/gateway listening/, 90_000);
    const logged = /"sshHostKey":"(SHA256:[A-Za-z0-9+/]+)"/.exec(gateway.output())?.[1];
    expect(logged, gateway.output()).toBeDefined();

    const res = await api.request('GET', '/api/ssh/host-key', { token: alice.token });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['fingerprint', 'publicKey']);
    expect(res.body.fingerprint).toBe(logged);
    const [type, blob, ...rest] = res.body.publicKey.split(' ');
    expect(type).toBe('ssh-ed25519');
    expect(rest).toEqual([]);
    const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '');
    expect(res.body.fingerprint).toBe(`SHA256:${digest}`);
    // Nothing of the sealed private half comes along.
    expect(res.text).not.toMatch(/PRIVATE|sealed/);

    // OpenSSH trusting only that key gets past host verification (then fails to log in, no
    // credentials); trusting another key it stops at verification.
    const pinned = await sshWith(`[127.0.0.1]:${sshPort} ${res.body.publicKey}`, 'known_hosts');
    expect(pinned.stderr).not.toContain('Host key verification failed');
    expect(pinned.stderr).toMatch(/Permission denied/);
    const other = ssh2.utils.generateKeyPairSync('ed25519').public;
    const wrong = await sshWith(`[127.0.0.1]:${sshPort} ${other}`, 'known_hosts_wrong');
    expect(wrong.stderr).toContain('Host key verification failed');
  }, 180_000);
});
