/* global console, process */
// `pnpm generate` (run by `pnpm start`, `pnpm test` and `pnpm typecheck`) builds the console only
// when its sources changed since the last build, so the common case costs a few stat calls.
// Test files call it too; a lock directory keeps concurrent callers from building over each other.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(here, 'dist', 'index.html');
const lock = path.join(here, '.build-lock');

function newest(entry) {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(entry).map((name) => newest(path.join(entry, name))));
}

function upToDate() {
  let builtAt;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    return false;
  }
  const inputs = ['src', 'index.html', 'vite.config.ts', 'package.json'].map((p) => path.join(here, p));
  return Math.max(...inputs.map(newest)) <= builtAt;
}

function acquire() {
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      // A lock older than the longest build is left over from a killed run.
      if (Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`console build lock ${lock} is held for too long`, { cause: err });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

if (upToDate()) {
  console.log('console: up to date (apps/console/dist)');
} else {
  acquire();
  try {
    if (upToDate()) {
      console.log('console: built by a concurrent run (apps/console/dist)');
    } else {
      const result = spawnSync(path.join(here, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], {
        cwd: here,
        stdio: 'inherit',
      });
      if (result.status !== 0) process.exitCode = result.status ?? 1;
      else console.log('console: built into apps/console/dist');
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
