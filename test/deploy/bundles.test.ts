import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, openDatabase } from '@warden/db';
import { freePort } from '../support/ports.js';
import { adminQuery, databaseUrl, dropDatabase, uniqueName } from '../support/postgres.js';
import { repoRoot } from '../support/processes.js';

// Production runs `node --enable-source-maps apps/<app>/dist/main.js` (the images, the charts):
// bundles made by scripts/build.ts, without tsx. Each bundle must load every module it needs
// from its own folder (an import left external that apps/<app>/dist cannot resolve fails only
// at start), and the V8 flags of @warden/runtime/lean-wasm must be set before any WebAssembly
// compiles. The full data path through the bundles is exercised by hand (see docs/operations.md);
// here each bundle is started far enough to prove it loads.

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'warden-bundles-'));

/** Runs a bundle with a clean environment plus `env`; resolves with its output once it exits or matches. */
function runBundle(
  app: string,
  env: Record<string, string>,
  options: { until?: RegExp; nodeArgs?: string[]; timeoutMs?: number } = {},
): Promise<{ output: string; code: number | null; exit: string }> {
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), '--enable-source-maps', join(repoRoot, 'apps', app, 'dist/main.js')],
    {
      // Not the repository root: the bundle must not depend on the working directory.
      cwd: scratch,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  let stopped = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${app} bundle: timed out; output:\n${output}`));
    }, options.timeoutMs ?? 15_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!stopped && options.until?.test(output)) {
        stopped = true; // once: a second signal would not change what the first one started
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // `exit` says how it ended with its output, so a failed expectation shows why.
      resolve({ output, code, exit: `${signal ? `killed by ${signal}` : `exit code ${code}`}; output:\n${output}` });
    });
  });
}

beforeAll(async () => {
  // What `pnpm build` runs after `pnpm generate` (the generated code exists: global setup).
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], {
    cwd: repoRoot,
    timeout: 60_000,
  });
  expect(stdout).toMatch(/built in \d+ ms/);
}, 90_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('process bundles (pnpm build)', () => {
  it('writes main.js and source maps for the gateway, the agent and the API', () => {
    for (const app of ['gateway', 'agent', 'api']) {
      for (const file of ['main.js', 'app.js', 'app.js.map', 'lean-wasm.js'])
        expect(existsSync(join(repoRoot, 'apps', app, 'dist', file)), `apps/${app}/dist/${file}`).toBe(true);
    }
  });

  it('the agent bundle starts and says clearly that it cannot reach its gateway', async () => {
    const port = await freePort(); // nothing listens there
    const { output, exit } = await runBundle(
      'agent',
      { WARDEN_GATEWAY_ADDR: `127.0.0.1:${port}`, WARDEN_AGENT_KEY: 'wda_not_a_real_key' },
      { until: /cannot reach the gateway/ },
    );
    expect(output).toMatch(/cannot reach the gateway/);
    expect(output).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
    // SIGTERM: the agent's own handler stops it cleanly, so its code ran, not just its imports.
    expect(output).toMatch(/agent stopping/);
    expect(exit).toMatch(/^exit code 0;/);
  });

  it.each(['gateway', 'api'])(
    'the %s bundle loads every module and reports its configuration error from the .ts source',
    async (app) => {
      // Every static import is evaluated before main.ts's body, which refuses to run without
      // DATABASE_URL: reaching that error proves the bundle and its externals load.
      const { output, code } = await runBundle(app, {});
      expect(output).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (module|package)/);
      expect(output).toMatch(/process needs DATABASE_URL/);
      // The source map points the stack at the TypeScript file.
      expect(output).toContain(join(repoRoot, 'apps', app, 'src/main.ts'));
      expect(code).not.toBe(0);
    },
  );

  it('the gateway bundle starts on a migrated control plane and generates its TLS certificate', async () => {
    // The certificate generator is imported only when needed (a CommonJS module behind a dynamic
    // import: its shape differs between Node and the bundle), so only a start with an empty data
    // directory runs that code.
    const name = uniqueName('bundle_gateway');
    await adminQuery(`CREATE DATABASE "${name}"`);
    try {
      const db = await openDatabase({ databaseUrl: databaseUrl(name), dataDir: scratch });
      await applyMigrations(db.adapterFactory);
      await db.close();
      const dataDir = mkdtempSync(join(scratch, 'gateway-data-'));
      const { output, exit } = await runBundle(
        'gateway',
        {
          DATABASE_URL: databaseUrl(name),
          WARDEN_SECRET_KEY: Buffer.alloc(32, 3).toString('base64'),
          WARDEN_DATA_DIR: dataDir,
          WARDEN_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
          WARDEN_POSTGRES_ADDR: `127.0.0.1:${await freePort()}`,
          WARDEN_SSH_ADDR: `127.0.0.1:${await freePort()}`,
        },
        { until: /gateway listening/, timeoutMs: 30_000 },
      );
      expect(output).toMatch(/gateway listening/);
      expect(existsSync(join(dataDir, 'gateway-tls.crt'))).toBe(true);
      expect(existsSync(join(dataDir, 'gateway-tls.key'))).toBe(true);
      // SIGTERM at 'gateway listening': its own stop runs, however early the signal comes.
      expect(exit).toMatch(/^exit code 0;/);
    } finally {
      await dropDatabase(name);
    }
  }, 60_000);

  it('sets the lean WebAssembly flags before libpg-query compiles its module', async () => {
    // Records, in order, V8 flag changes and WebAssembly compilations (a preload, not a loader hook).
    const probe = join(scratch, 'order-probe.mjs');
    writeFileSync(
      probe,
      `import v8 from 'node:v8';
const say = (line) => process.stderr.write('ORDER ' + line + '\\n');
const setFlags = v8.setFlagsFromString;
v8.setFlagsFromString = (flags) => { say('flags ' + flags); return setFlags(flags); };
for (const name of ['compile', 'instantiate']) {
  const original = WebAssembly[name];
  WebAssembly[name] = function (...args) { say('wasm ' + new Error().stack.split('\\n')[2].trim()); return original.apply(this, args); };
}
`,
    );
    const { output } = await runBundle('gateway', {}, { nodeArgs: ['--import', probe] });
    const order = output.split('\n').filter((line) => line.startsWith('ORDER '));
    const flags = order.findIndex((line) => line.includes('--wasm-lazy-compilation'));
    const libpgQuery = order.findIndex((line) => line.startsWith('ORDER wasm') && line.includes('libpg-query'));
    expect(flags, order.join('\n')).toBeGreaterThanOrEqual(0);
    expect(libpgQuery, order.join('\n')).toBeGreaterThan(flags);
    expect(order.slice(0, flags).filter((line) => line.startsWith('ORDER wasm'))).toEqual([]);
  });
});
