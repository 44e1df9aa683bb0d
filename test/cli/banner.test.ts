import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../support/data-path.js';
import { freePort } from '../support/ports.js';
import { repoRoot, startProcess, type RunningProcess } from '../support/processes.js';

// The embedded stack's start banner (`pnpm start`): the SSH host key's fingerprint, and the
// CLI lines of "Next:", which run as printed, in order, from where `pnpm start` was run.
const dataDir = mkdtempSync(path.join(tmpdir(), 'warden-banner-'));
const prefix = mkdtempSync(path.join(tmpdir(), 'warden-banner-npm-'));
let stack: RunningProcess | undefined;
afterAll(async () => {
  await stack?.stop('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(prefix, { recursive: true, force: true });
});

describe('the embedded stack’s banner', () => {
  it('shows the SSH host key the API serves, and CLI lines that run as printed', async () => {
    const apiPort = await freePort();
    const base = `http://127.0.0.1:${apiPort}`;
    stack = startProcess('apps/warden/src/main.ts', {
      WARDEN_DATA_DIR: dataDir,
      WARDEN_API_ADDR: `127.0.0.1:${apiPort}`,
      WARDEN_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
      WARDEN_POSTGRES_ADDR: `127.0.0.1:${await freePort()}`,
      WARDEN_SSH_ADDR: `127.0.0.1:${await freePort()}`,
      WARDEN_HTTP_PROXY_ADDR: `127.0.0.1:${await freePort()}`,
    });
    await stack.waitFor(/Ctrl-C stops everything/, 120_000);
    const output = stack.output();
    const adminKey = /shown only this once; keep it:\s+(wdn_\S+)/.exec(output)?.[1];
    expect(adminKey, output).toBeDefined();

    const fingerprint =
      /^ {17}host key (SHA256:[A-Za-z0-9+/]{43}) {3}\(the public key: GET \/api\/ssh\/host-key\)$/m.exec(output)?.[1];
    expect(fingerprint, output).toBeDefined();
    const served = await fetch(`${base}/api/ssh/host-key`, { headers: { authorization: `Bearer ${adminKey}` } });
    expect((await served.json()).fingerprint).toBe(fingerprint);

    // "Next:" as printed, from the export lines to `warden console`, the placeholder filled in.
    const next = output.slice(output.indexOf('Next:'));
    const lines = next.split('\n').map((l) => l.trim());
    const cliLines = [
      lines.find((l) => l.startsWith('export WARDEN_TOKEN='))!.replace('<admin key>', adminKey!),
      lines.find((l) => l.startsWith('export WARDEN_URL='))!,
      lines.find((l) => l.startsWith('npm install -g '))!,
      lines.find((l) => l.startsWith('warden console'))!,
    ];
    expect(cliLines.slice(1)).toEqual([
      `export WARDEN_URL=${base}`,
      'npm install -g ./apps/cli   # the warden CLI: login, connect, console, replay, verify',
      'warden console   # the web console in your browser, signed in with WARDEN_TOKEN',
    ]);
    // A global install into a scratch prefix (npm_config_prefix), and no browser: the link is printed.
    const ran = await run('sh', ['-c', `set -e; cd ${JSON.stringify(repoRoot)}; ${cliLines.join('\n')}`], {
      env: {
        npm_config_prefix: prefix,
        npm_config_fund: 'false',
        npm_config_audit: 'false',
        npm_config_update_notifier: 'false',
        PATH: `${path.join(prefix, 'bin')}${path.delimiter}${process.env.PATH}`,
        WARDEN_NO_BROWSER: '1',
      },
      timeoutMs: 180_000,
    });
    expect(ran.code, ran.stderr).toBe(0);
    const link = /^(http\S+\/api\/auth\/console-login\?code=wdc_\S+)$/m.exec(ran.stdout)?.[1];
    expect(link, ran.stdout).toBeDefined();
    const opened = await fetch(link!, { redirect: 'manual' });
    expect(opened.status).toBe(302);
    const token = new URLSearchParams(new URL(opened.headers.get('location')!, base).hash.slice(1)).get('access_token');
    const me = await fetch(`${base}/api/users/me`, { headers: { authorization: `Bearer ${token}` } });
    expect((await me.json()).name).toBe('admin');

    expect(await stack.stop('SIGINT')).toBe(0);
  }, 300_000);
});
