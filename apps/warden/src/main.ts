// `pnpm start`: the whole Warden stack in one process, on embedded defaults.
import '@warden/runtime/lean-wasm';
import { loadConfig } from '@warden/runtime';
import { runWarden } from './run.js';

await runWarden(() => loadConfig());
