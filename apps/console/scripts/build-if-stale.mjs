/* global console, process */
// `pnpm generate` (run by `pnpm start`, `pnpm test` and `pnpm typecheck`) builds the console only
// when its sources changed since the last build, so the common case costs a few stat calls.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const built = path.join(here, 'dist', 'index.html');

function newest(entry) {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(entry).map((name) => newest(path.join(entry, name))));
}

let builtAt = -1;
try {
  builtAt = statSync(built).mtimeMs;
} catch {
  /* never built */
}
const inputs = ['src', 'index.html', 'vite.config.ts', 'package.json'].map((p) => path.join(here, p));
if (builtAt >= 0 && Math.max(...inputs.map(newest)) <= builtAt) {
  console.log('console: up to date (apps/console/dist)');
} else {
  const result = spawnSync(path.join(here, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], {
    cwd: here,
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
  console.log('console: built into apps/console/dist');
}
