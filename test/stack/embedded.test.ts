import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { startProcess, type RunningProcess } from '../support/processes.js';

// The zero-configuration main job: no DATABASE_URL, so the control plane is PGlite
// under the data directory and API, gateway and agent share one process.
const dataDir = mkdtempSync(path.join(tmpdir(), 'warden-embedded-'));
let stack: RunningProcess | undefined;
afterAll(async () => {
  await stack?.stop('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function startEmbedded(ports: Record<string, number>) {
  const env = {
    WARDEN_DATA_DIR: dataDir,
    WARDEN_API_ADDR: `127.0.0.1:${ports.api}`,
    WARDEN_GRPC_ADDR: `127.0.0.1:${ports.grpc}`,
    WARDEN_POSTGRES_ADDR: `127.0.0.1:${ports.postgres}`,
    WARDEN_SSH_ADDR: `127.0.0.1:${ports.ssh}`,
    WARDEN_HTTP_PROXY_ADDR: `127.0.0.1:${ports.http}`,
  };
  const proc = startProcess('apps/warden/src/main.ts', env);
  await proc.waitFor(/Ctrl-C stops everything/, 90_000);
  return proc;
}

describe('embedded stack (PGlite)', () => {
  it('boots on defaults, migrates, serves the API, stops cleanly and keeps its data', async () => {
    const ports = {
      api: await freePort(),
      grpc: await freePort(),
      postgres: await freePort(),
      ssh: await freePort(),
      http: await freePort(),
    };
    const base = `http://127.0.0.1:${ports.api}`;
    stack = await startEmbedded(ports);
    const [, adminKey] = stack.output().match(/shown only this once; keep it:\s+(wdn_\S+)/) ?? [];
    expect(adminKey).toMatch(/^wdn_/);
    expect(stack.output()).toContain(`embedded PGlite at ${path.join(dataDir, 'pglite')}`);
    expect((statSync(path.join(dataDir, 'secret.key')).mode & 0o777).toString(8)).toBe('600');

    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: 'ready', database: 'ok' });
    const auth = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
    const agents = await (await fetch(`${base}/api/agents`, { headers: auth })).json();
    expect(agents.map((a: { name: string }) => a.name)).toContain('default');
    const created = await fetch(`${base}/api/groups`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ name: 'engineering' }),
    });
    expect(created.status).toBe(201);

    expect(await stack.stop('SIGINT')).toBe(0);

    // Second start: same data, no new admin key printed, the old key still works.
    stack = await startEmbedded(ports);
    expect(stack.output()).not.toContain('shown only this once');
    const groups = await (await fetch(`${base}/api/groups/engineering`, { headers: auth })).json();
    expect(groups.name).toBe('engineering');
    expect(await stack.stop('SIGTERM')).toBe(0);
  }, 180_000);
});
