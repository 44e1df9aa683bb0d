// Test entry point: what `pnpm start` runs (apps/warden/src/run.ts, as main.ts calls it), killing
// itself with SIGKILL when the start reaches the StackPhase named by its first argument. A hard
// kill, not an exit: nothing is flushed or rolled back by the process itself, as when an operator's
// terminal, container or host goes away at that moment.
import '@warden/runtime/lean-wasm';
import { loadConfig } from '@warden/runtime';
import { runWarden } from '../../apps/warden/src/run.js';
import type { StackPhase } from '../../apps/warden/src/stack.js';

const crashAt = process.argv[2] as StackPhase | undefined;
if (!crashAt) throw new Error('usage: crash-at.ts <phase>');

await runWarden(() => loadConfig(), {
  onPhase: (phase) => {
    if (phase !== crashAt) return;
    process.stdout.write(`[test] SIGKILL at ${phase}\n`);
    process.kill(process.pid, 'SIGKILL');
  },
});
