import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { adminQuery, dropDatabase, serverUrl, uniqueName } from '../support/postgres.js';
import { repoRoot, startProcess, type RunningProcess } from '../support/processes.js';
import { applyRewrites, fencedBlocks, runnableBlocks, type Rewrite } from './readme-blocks.js';

// Issue 25: every README example a new user copies in the first hour runs as written against a
// fresh stack. The README marks those blocks ```sh runnable; this file starts `pnpm start`'s
// process on a fresh WARDEN_DATA_DIR, takes the admin key from its banner, and runs the blocks in
// document order, each with `bash -euo pipefail`, expecting exit 0.
//
// What differs from a user's terminal, and why:
// - Listeners are on free ports (other stacks may run on this machine), so the README's default
//   addresses (API 127.0.0.1:8009, Postgres listener 127.0.0.1:15432) are substituted in the
//   extracted text; a block still naming a default port after that fails the run rather than
//   reach some other stack.
// - The target the README asks for (a role `app` owning a database `app`, password
//   `app-password`, on 127.0.0.1:5432) is created here under unique names on the test Postgres
//   (WARDEN_TEST_PG), and its names, host and port are substituted in the connection's JSON.
// - WARDEN_TOKEN (the README's `export WARDEN_TOKEN=wdn_...`) and WARDEN_URL are exported.
// - `curl` is run with --fail-with-body --silent --show-error (a shell function), so an HTTP error
//   (the 400 `no such group: ci` of issue 25) fails the block as the user would see it fail;
//   psql runs with ON_ERROR_STOP (PSQLRC), so an SQL error does too.
// - Blocks run in a temporary directory with a temporary HOME (no ~/.pgpass, ~/.psqlrc, PG* vars).

const README = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const blocks = runnableBlocks(README);

const root = mkdtempSync(path.join(tmpdir(), 'warden-readme-'));
const target = { role: uniqueName('readme_app'), database: uniqueName('readme_app') };
const targetServer = new URL(serverUrl);
let stack: RunningProcess | undefined;
let token = '';
let rewrites: Rewrite[] = [];
let blockEnv: NodeJS.ProcessEnv = {};
/** What each block printed, by README line. */
const outputs = new Map<number, string>();
let failedBlock: number | undefined;

const DEFAULT_PORTS = /(?<![\d.])(8009|8010|15432|12222|18888)(?!\d)/;
const PRELUDE = [
  '# readme-blocks.test.ts: an HTTP error fails the command, as a user would see it fail',
  'curl() { command curl --fail-with-body --silent --show-error "$@"; }',
  '',
].join('\n');

beforeAll(async () => {
  // The README's target: "a least-privilege role `app` owning a database `app`".
  await adminQuery(`CREATE ROLE "${target.role}" LOGIN PASSWORD 'app-password'`);
  await adminQuery(`CREATE DATABASE "${target.database}" OWNER "${target.role}"`);

  const [api, grpc, postgres, ssh, http] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  // `pnpm start` = `pnpm generate && exec node --import tsx apps/warden/src/main.ts` (checked below);
  // the generate step already ran for this test run.
  stack = startProcess('apps/warden/src/main.ts', {
    WARDEN_DATA_DIR: path.join(root, '.data'),
    WARDEN_API_ADDR: `127.0.0.1:${api}`,
    WARDEN_GRPC_ADDR: `127.0.0.1:${grpc}`,
    WARDEN_POSTGRES_ADDR: `127.0.0.1:${postgres}`,
    WARDEN_SSH_ADDR: `127.0.0.1:${ssh}`,
    WARDEN_HTTP_PROXY_ADDR: `127.0.0.1:${http}`,
  });
  await stack.waitFor(/Ctrl-C stops everything/, 120_000);
  const keys = stack.output().match(/wdn_[A-Za-z0-9_-]{20,}/g) ?? [];
  expect(keys, stack.output()).toHaveLength(1); // printed once, at first start
  token = keys[0]!;

  rewrites = [
    { from: 'http://127.0.0.1:8009', to: `http://127.0.0.1:${api}` },
    { from: '127.0.0.1:15432', to: `127.0.0.1:${postgres}` },
    {
      from: '"host": "127.0.0.1", "port": 5432',
      to: `"host": "${targetServer.hostname}", "port": ${targetServer.port || 5432}`,
    },
    { from: '"database": "app"', to: `"database": "${target.database}"` },
    { from: '"user": "app"', to: `"user": "${target.role}"` },
  ];
  const psqlrc = path.join(root, 'psqlrc');
  writeFileSync(psqlrc, '\\set ON_ERROR_STOP on\n');
  blockEnv = {
    PATH: process.env.PATH,
    HOME: root,
    LANG: 'C.UTF-8',
    PSQLRC: psqlrc,
    WARDEN_TOKEN: token,
    WARDEN_URL: `http://127.0.0.1:${api}`,
  };
}, 180_000);

afterAll(async () => {
  await stack?.stop('SIGTERM');
  await dropDatabase(target.database);
  await adminQuery(`DROP ROLE IF EXISTS "${target.role}"`);
  rmSync(root, { recursive: true, force: true });
});

/** Runs one block with `bash -euo pipefail`; resolves with its exit code and everything it printed. */
function runBlock(line: number, code: string): Promise<{ exit: number | null; output: string }> {
  const file = path.join(root, `readme-line-${line}.sh`);
  writeFileSync(file, PRELUDE + code);
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', file], {
      cwd: root,
      env: blockEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      output += '\n[readme-blocks.test.ts: killed after 50 s]';
      child.kill('SIGKILL');
    }, 50_000);
    child.on('close', (exit) => {
      clearTimeout(timer);
      resolve({ exit, output });
    });
  });
}

describe('reading the README', () => {
  it('finds fences in lists and after headings, and only the ones marked runnable', () => {
    const markdown = [
      '# Title',
      '```sh',
      'echo illustrative',
      '```',
      '## Section',
      '- item:',
      '',
      '  ```sh runnable',
      '  echo one',
      '    echo indented',
      '  ```',
      '',
      '````sh runnable',
      '```',
      'echo two',
      '````',
      '~~~bash runnable',
      'echo three',
      '~~~',
      '```js runnable',
      'console.log(4)',
      '```',
    ].join('\n');
    expect(fencedBlocks(markdown).map((b) => b.info)).toEqual([
      'sh',
      'sh runnable',
      'sh runnable',
      'bash runnable',
      'js runnable',
    ]);
    expect(runnableBlocks(markdown)).toEqual([
      { line: 8, heading: 'Section', info: 'sh runnable', code: 'echo one\n  echo indented\n' },
      { line: 13, heading: 'Section', info: 'sh runnable', code: '```\necho two\n' },
      { line: 17, heading: 'Section', info: 'bash runnable', code: 'echo three\n' },
    ]);
    expect(() => fencedBlocks('```sh\necho never closed\n')).toThrow('line 1: the fence opened here is never closed');
  });

  it('has runnable blocks, and the test starts what `pnpm start` starts', () => {
    expect(blocks.length).toBeGreaterThan(0);
    expect(README).toContain('npx -y pnpm@10.34.8 start');
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start).toBe('pnpm generate && exec node --import tsx apps/warden/src/main.ts');
  });
});

describe('the README, run as written against a fresh embedded stack', () => {
  it('names the defaults this test substitutes in its runnable blocks', () => {
    const counts = rewrites.map(() => 0);
    for (const block of blocks) applyRewrites(block.code, rewrites).counts.forEach((n, i) => (counts[i]! += n));
    // A rewrite that matches nothing means the README changed: update the rewrites above with it.
    expect(
      rewrites.filter((_, i) => counts[i] === 0).map((r) => r.from),
      'rewrites that match no runnable block',
    ).toEqual([]);
  });

  for (const block of blocks) {
    it(`runs the block at README line ${block.line} (${block.heading})`, async (ctx) => {
      if (failedBlock !== undefined)
        ctx.skip(`the block at README line ${failedBlock} failed; later blocks build on it`);
      const { text } = applyRewrites(block.code, rewrites);
      const stale = DEFAULT_PORTS.exec(text);
      if (stale) {
        failedBlock = block.line;
        expect.fail(`README line ${block.line}: port ${stale[1]} is a default this test does not rewrite:\n${text}`);
      }
      const { exit, output } = await runBlock(block.line, text);
      outputs.set(block.line, output);
      if (exit !== 0) failedBlock = block.line;
      expect(exit, `README line ${block.line} exited ${exit}.\n--- block ---\n${text}--- output ---\n${output}`).toBe(
        0,
      );
    }, 60_000);
  }

  it('shows the example customer only masked', (ctx) => {
    if (failedBlock !== undefined) ctx.skip(`the block at README line ${failedBlock} failed`);
    // The README writes Ada Lovelace's row through Warden and reads it back, under the default
    // masking pack and then under its own policy (and in the session's transcript): every row
    // printed carries the name, never the email address or the SSN.
    const rows = [...outputs.values()].flatMap((output) =>
      output.split('\n').filter((line) => /^\s*1 \| Ada Lovelace \|/.test(line)),
    );
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const row of rows) {
      expect(row).not.toContain('123-45-6789');
      expect(row).not.toContain('ada@example.com');
    }
    expect(rows.join('\n')).toContain('[REDACTED:us_ssn]'); // the default pack
    expect(rows.join('\n')).toMatch(/\*+@example\.com \| \[REDACTED\]/); // mask-customers
  });
});
