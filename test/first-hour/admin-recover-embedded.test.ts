import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { startProcess, type RunningProcess } from '../support/processes.js';

// Admin recovery on the default, embedded control plane (PGlite under WARDEN_DATA_DIR): PGlite
// serves one process, so recovery refuses while the stack runs, and works once it is stopped.

const KEY = /wdn_[A-Za-z0-9_-]{20,}/g;
const root = mkdtempSync(path.join(tmpdir(), 'warden-recover-embedded-'));
const dataDir = path.join(root, '.data');
let stack: RunningProcess | undefined;
afterAll(async () => {
  await stack?.stop('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

async function startEmbedded(): Promise<{ proc: RunningProcess; base: string }> {
  const [api, grpc, postgres, ssh, http] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const proc = startProcess('apps/warden/src/main.ts', {
    WARDEN_DATA_DIR: dataDir,
    WARDEN_API_ADDR: `127.0.0.1:${api}`,
    WARDEN_GRPC_ADDR: `127.0.0.1:${grpc}`,
    WARDEN_POSTGRES_ADDR: `127.0.0.1:${postgres}`,
    WARDEN_SSH_ADDR: `127.0.0.1:${ssh}`,
    WARDEN_HTTP_PROXY_ADDR: `127.0.0.1:${http}`,
  });
  stack = proc;
  await proc.waitFor(/Ctrl-C stops everything/, 120_000);
  return { proc, base: `http://127.0.0.1:${api}` };
}

async function recover() {
  const proc = startProcess('apps/api/src/admin-recover.ts', { WARDEN_DATA_DIR: dataDir });
  const code = await new Promise<number | null>((resolve) => proc.child.once('exit', (c) => resolve(c)));
  return { code, output: proc.output() };
}

describe('admin recovery on the embedded control plane', () => {
  it('refuses while the stack has PGlite open, then issues a key that works on the next start', async () => {
    const first = await startEmbedded();
    expect(first.proc.output().match(KEY)).toHaveLength(1); // and then lost by the operator
    const pidFile = path.join(dataDir, 'warden.pid');
    expect(existsSync(pidFile)).toBe(true);

    const refused = await recover();
    expect(refused.code).toBe(1);
    expect(refused.output.trim()).toBe(
      `admin recovery failed: Warden (pid ${first.proc.child.pid}) has the embedded database under ${dataDir} open, ` +
        `and PGlite serves one process: stop it, run this again, then start Warden (if no Warden runs, delete ${pidFile})`,
    );
    expect(refused.output).not.toMatch(KEY);

    expect(await first.proc.stop('SIGTERM')).toBe(0);
    expect(existsSync(pidFile)).toBe(false);

    const done = await recover();
    expect(done.code, done.output).toBe(0);
    expect(done.output).toContain(`Admin access recovered on ${path.join(dataDir, 'pglite')}: identity "admin"`);
    const [key] = done.output.match(KEY) ?? [];
    expect(key).toBeDefined();

    const next = await startEmbedded();
    expect(next.proc.output()).not.toMatch(KEY);
    const audit = await fetch(`${next.base}/api/audit?action=admin.recover`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(audit.status).toBe(200);
    const items = ((await audit.json()) as { items: { details: { via: string } }[] }).items;
    expect(items.map((i) => i.details.via)).toEqual(['admin:recover']);
    expect(await next.proc.stop('SIGTERM')).toBe(0);
  }, 300_000);
});
