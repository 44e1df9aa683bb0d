import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { openInBrowser } from './browser.js';
import { run } from './cli.js';
import { packageDirOf, selfInvocation } from './self.js';

// src/main.ts and the bundle dist/warden.js are both one level below the package (apps/cli).
const packageDir = packageDirOf(import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const build = import.meta.url.endsWith('.ts') ? 'sources' : 'bundle';

// `warden … | head` closes the pipe early; that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const interrupt = new AbortController();
process.once('SIGINT', () => {
  interrupt.abort();
  process.exitCode = 130;
});

async function readStdin(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk as string;
  return text;
}

const code = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  // `pnpm warden …` runs in the workspace root; paths on its command line are relative to where it was typed.
  cwd: (process.env.npm_lifecycle_event === 'warden' && process.env.INIT_CWD) || process.cwd(),
  readStdin,
  fetch,
  // Ctrl-C during a replay's pause should stop it now, not after the pause.
  sleep: (ms) => delay(ms, undefined, { signal: interrupt.signal }).catch(() => {}),
  signal: interrupt.signal,
  self: selfInvocation(process.env, packageDir),
  version: `warden ${version} (${build}, ${packageDir})`,
  openBrowser: (url) => openInBrowser(url),
});
if (!interrupt.signal.aborted) process.exitCode = code;
