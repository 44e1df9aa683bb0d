// Imported first by every entry point, before anything that compiles WebAssembly
// (Prisma's query compiler, libpg-query): ESM evaluates a module's imports in order,
// so this runs before their modules load.
//
// Why: V8 otherwise compiles every function of a WebAssembly module up front and then
// re-compiles the hot ones with TurboFan. The gateway uses a small part of either
// module; compiling only what runs kept ~20 MB of machine code out of its resident
// memory (bench/pgbench.ts reports the RSS), at no measurable cost per statement.
import v8 from 'node:v8';

v8.setFlagsFromString('--wasm-lazy-compilation');
