import { setTimeout as delay } from 'node:timers/promises';
import { run } from './cli.js';

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
});
if (!interrupt.signal.aborted) process.exitCode = code;
