import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeApi, sendJson, type FakeApi } from '../../apps/cli/src/test-support.js';
import { run, type CommandResult } from '../support/data-path.js';
import { repoRoot } from '../support/processes.js';

// The CLI installed the documented way, `npm install -g ./apps/cli` from the repository (here
// into a scratch --prefix), and the commands it prints run as printed in a real shell.
const cliDir = path.join(repoRoot, 'apps/cli');
const bundle = path.join(cliDir, 'dist/warden.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'warden-cli-install-'));
const prefix = path.join(scratch, 'prefix');
const installedBin = path.join(prefix, 'bin');
const fakeBin = path.join(scratch, 'fake-bin');
const TOKEN = 'wdn_install_test_token';

let api: FakeApi;
const quiet = { npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };

/** A command with this environment on top of the test's, its PATH replaced. */
function sh(line: string, env: Record<string, string>, cwd = scratch): Promise<CommandResult> {
  return run('sh', ['-c', `cd ${JSON.stringify(cwd)} && ${line}`], { env, timeoutMs: 60_000 });
}

const basePath = process.env.PATH ?? '';
const envFor = (pathDirs: string[]) => ({
  PATH: [...pathDirs, basePath].join(path.delimiter),
  WARDEN_URL: api.url,
  WARDEN_TOKEN: TOKEN,
  WARDEN_POSTGRES_ADDR: '127.0.0.1:15432',
  WARDEN_NO_BROWSER: '1',
});

/** What the fake psql saw: its PGPASSWORD and its arguments. */
function psqlSaw(result: CommandResult): { password: string; args: string[] } {
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

beforeAll(async () => {
  // The bundle, as `pnpm --filter @warden/cli build` makes it.
  const built = await run(process.execPath, ['--import', 'tsx', 'apps/cli/src/build.ts'], { timeoutMs: 120_000 });
  expect(built.code, built.stderr).toBe(0);
  expect(existsSync(bundle)).toBe(true);

  const installed = await run(
    'sh',
    ['-c', `cd ${JSON.stringify(repoRoot)} && npm install -g --prefix "$1" ./apps/cli`, 'sh', prefix],
    {
      env: quiet,
      timeoutMs: 180_000,
    },
  );
  expect(installed.code, installed.stderr + installed.stdout).toBe(0);

  // A psql that reports what it was given instead of connecting.
  mkdirSync(fakeBin, { recursive: true });
  writeFileSync(
    path.join(fakeBin, 'psql'),
    `#!${process.execPath}\nprocess.stdout.write(JSON.stringify({ password: process.env.PGPASSWORD ?? null, args: process.argv.slice(2) }));\n`,
  );
  chmodSync(path.join(fakeBin, 'psql'), 0o755);

  api = await fakeApi((req, res) => {
    if (req.url === '/api/users/me' && req.headers.authorization === `Bearer ${TOKEN}`) {
      return sendJson(res, 200, { name: 'alice', kind: 'user', role: 'user', groups: [] });
    }
    sendJson(res, 401, { statusCode: 401, message: 'the token is not valid' });
  });
}, 300_000);

afterAll(async () => {
  await api?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('the installed warden', () => {
  it('is on the PATH of the prefix and answers --help and --version from the bundle', async () => {
    const help = await sh('warden --help', envFor([installedBin]));
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: warden <command> \[options\]/);
    for (const name of ['login', 'connect', 'token', 'console', 'verify']) expect(help.stdout).toContain(`  ${name} `);
    const version = await sh('warden --version', envFor([installedBin]));
    expect(version.stdout.trim()).toBe(`warden 0.1.0 (bundle, ${cliDir})`);
  });

  it('has a bundle that runs on its own, away from the repository and its node_modules', async () => {
    const copy = path.join(scratch, 'copy');
    mkdirSync(path.join(copy, 'dist'), { recursive: true });
    writeFileSync(path.join(copy, 'dist/warden.js'), readFileSync(bundle));
    writeFileSync(path.join(copy, 'package.json'), readFileSync(path.join(cliDir, 'package.json')));
    const version = await run(process.execPath, [path.join(copy, 'dist/warden.js'), '--version'], { env: envFor([]) });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(`warden 0.1.0 (bundle, ${copy})`);
  });

  it('prints a connect line that runs as printed: psql gets the token in PGPASSWORD, the conninfo as argument', async () => {
    const env = envFor([installedBin, fakeBin]);
    const printed = await sh('warden connect pg-prod', env);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stderr).toBe('');
    const line = printed.stdout.trim();
    expect(line).toBe(
      'PGPASSWORD="$(warden token)" psql "host=127.0.0.1 port=15432 dbname=pg-prod user=alice sslmode=prefer"',
    );
    expect(psqlSaw(await sh(line, env))).toEqual({
      password: TOKEN,
      args: ['host=127.0.0.1 port=15432 dbname=pg-prod user=alice sslmode=prefer'],
    });
  });

  it('quotes a host the shell would otherwise expand, so psql gets it exactly', async () => {
    const env = envFor([installedBin, fakeBin]);
    const printed = await sh(`warden connect pg-prod --host 'db "$HOME" \`id\` \\x' --sslmode require`, env);
    expect(printed.code, printed.stderr).toBe(0);
    const saw = psqlSaw(await sh(printed.stdout.trim(), env));
    expect(saw.password).toBe(TOKEN);
    expect(saw.args).toEqual([`host='db "$HOME" \`id\` \\\\x' port=15432 dbname=pg-prod user=alice sslmode=require`]);
  });

  it('run as `pnpm warden` does (sources, warden not on the PATH), prints a line that still runs from anywhere', async () => {
    const env = envFor([fakeBin]);
    const printed = await run(process.execPath, ['--import', 'tsx', 'apps/cli/src/main.ts', 'connect', 'pg-prod'], {
      env,
    });
    expect(printed.code, printed.stderr).toBe(0);
    const line = printed.stdout.trim();
    expect(line).toBe(
      `PGPASSWORD="$(${process.execPath} ${path.join(cliDir, 'bin/warden.js')} token)" psql "host=127.0.0.1 port=15432 dbname=pg-prod user=alice sslmode=prefer"`,
    );
    expect(printed.stderr).toContain(`\`npm install -g ${cliDir}\` installs it`);
    expect(psqlSaw(await sh(line, env, tmpdir())).password).toBe(TOKEN);
  });

  it('runs the sources through tsx when the bundle is older than them, and the bundle again once rebuilt', async () => {
    const old = new Date('2000-01-01T00:00:00Z');
    utimesSync(bundle, old, old);
    const stale = await sh('warden --version', envFor([installedBin]));
    expect(stale.stdout.trim()).toBe(`warden 0.1.0 (sources, ${cliDir})`);
    const rebuilt = await run(process.execPath, ['--import', 'tsx', 'apps/cli/src/build.ts'], { timeoutMs: 120_000 });
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const fresh = await sh('warden --version', envFor([installedBin]));
    expect(fresh.stdout.trim()).toBe(`warden 0.1.0 (bundle, ${cliDir})`);
  }, 180_000);

  it('also runs through npx from the repository', async () => {
    const npx = await sh('npx --yes ./apps/cli --version', { ...quiet, ...envFor([]) }, repoRoot);
    expect(npx.code, npx.stderr).toBe(0);
    expect(npx.stdout.trim()).toBe(`warden 0.1.0 (bundle, ${cliDir})`);
  }, 120_000);
});
