// Bundles each long-running process into plain JavaScript, so production runs
// `node --enable-source-maps apps/<app>/dist/main.js` without tsx: tsx's ESM loader hooks run
// on a loader thread with its own V8 isolate, ~33 MB of resident memory per process.
//
//   pnpm build   (= pnpm generate && node --import tsx scripts/build.ts [app ...])
//
// Each app gets apps/<app>/dist/{main.js,lean-wasm.js} and their source maps. npm dependencies
// are bundled too (pnpm's strict layout would not let apps/<app>/dist resolve a workspace
// package's dependency), except the EXTERNAL ones below, which read files next to themselves
// at run time; the build checks each remaining external is resolvable from apps/<app>/dist.
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const APPS = ['gateway', 'agent', 'api'] as const;
export type App = (typeof APPS)[number];

/** Packages left out of the bundles, and why; each app using one lists it as a direct dependency. */
export const EXTERNAL: Record<string, string> = {
  'libpg-query': 'loads libpg-query.wasm from its own folder (__dirname)',
  '@electric-sql/pglite': 'loads pglite.wasm and its file-system image from its own folder (import.meta.url)',
  bullmq: 'reads its Lua scripts from its own folder; brings msgpackr-extract (native, optional)',
  ssh2: 'optional native crypto binding and cpu-features (native .node files), required relative to itself',
  '@fastify/swagger': 'reads its own package.json relative to __dirname',
  '@fastify/swagger-ui': 'serves the Swagger UI files from its own static/ folder',
};

/**
 * Optional modules bundled dependencies require inside try/catch; esbuild leaves those requires
 * as they are when the module is not installed, and so does the dependency at run time.
 */
export const OPTIONAL: Record<string, string> = {
  'pg-native': "pg's libpq binding, only for `pg.native`; never installed, pg uses its JavaScript client",
};

/** Worker threads an app starts, each bundled as dist/<name>.js beside main.js (their code finds them there). */
const WORKERS: Partial<Record<App, Record<string, string>>> = {
  gateway: { 'recording-worker': 'apps/gateway/src/recording/offload/recording-worker.ts' },
};

/** The entry module every main.ts imports first: it sets V8 flags before any WebAssembly compiles. */
const LEAN_WASM = '@warden/runtime/lean-wasm';
const LEAN_WASM_SOURCE = path.join(repoRoot, 'packages/runtime/src/lean-wasm.ts');

// Defines what the bundled CommonJS dependencies expect (esbuild keeps their `require` calls of
// Node built-ins and of externals, and some read __dirname / __filename).
const BANNER = [
  "import { createRequire as __wardenCreateRequire } from 'node:module';",
  "import { fileURLToPath as __wardenFileURLToPath } from 'node:url';",
  "import { dirname as __wardenDirname } from 'node:path';",
  'const require = __wardenCreateRequire(import.meta.url);',
  'const __filename = __wardenFileURLToPath(import.meta.url);',
  'const __dirname = __wardenDirname(__filename);',
].join('\n');

/**
 * main.ts's first import stays a module of its own, dist/lean-wasm.js, which dist/main.js
 * imports before dist/app.js. Bundled into app.js, its code would run only after every external
 * import of the bundle and of its shared chunks had been evaluated (ESM evaluates all of a
 * module's imports before its body), and libpg-query compiles its WebAssembly as soon as it is
 * evaluated.
 */
function leanWasmFirst(): Plugin {
  return {
    name: 'lean-wasm-first',
    setup(b) {
      b.onResolve({ filter: /^@warden\/runtime\/lean-wasm$/ }, () => ({ path: './lean-wasm.js', external: true }));
    },
  };
}

/**
 * Workspace sources locate repository files relative to themselves (packages/db finds
 * prisma/migrations, the API finds apps/console/dist). In a bundle import.meta.url is the
 * bundle's, so each such source gets its own original location back, relative to the bundle.
 */
function sourceImportMetaUrl(outdir: string): Plugin {
  return {
    name: 'source-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.[cm]?ts$/ }, async (args) => {
        if (args.path.split(path.sep).includes('node_modules')) return undefined;
        const text = await readFile(args.path, 'utf8');
        if (!/\bimport\.meta\.url\b/.test(text)) return undefined;
        const relative = path.relative(outdir, args.path).split(path.sep).join('/');
        const url = `new URL(${JSON.stringify(relative)}, import.meta.url).href`;
        return { contents: text.replace(/\bimport\.meta\.url\b/g, url), loader: 'ts' };
      });
    },
  };
}

/** External imports left in an output (package names and relative paths). */
function externalImports(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) if (imp.external) names.add(imp.path);
  }
  return [...names].sort();
}

/** The package name of a bare specifier (`@scope/name/sub` → `@scope/name`). */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Whether Node finds `specifier` from a module in `dir` (node_modules lookup up the tree). */
function resolvableFrom(dir: string, specifier: string): boolean {
  if (specifier.startsWith('.')) return existsSync(path.resolve(dir, specifier));
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'node_modules', packageName(specifier), 'package.json'))) return true;
    if (path.dirname(d) === d) return false;
  }
}

/** Node's own modules (`node:fs`, and `fs`, `stream/web` as CommonJS dependencies write them). */
function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!);
}

export interface BuildResult {
  app: App;
  outfile: string;
  externals: string[];
  bytes: number;
}

/** Builds one app's bundle into apps/<app>/dist. */
export async function buildApp(app: App): Promise<BuildResult> {
  const outdir = path.join(repoRoot, 'apps', app, 'dist');
  await rm(outdir, { recursive: true, force: true });
  const common = {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    // Stack traces need the mappings only; Node reads the .ts files themselves when it shows source.
    sourcesContent: false,
    logLevel: 'warning',
    metafile: true,
    absWorkingDir: repoRoot,
  } as const;
  const [lean, main] = await Promise.all([
    build({ ...common, entryPoints: [LEAN_WASM_SOURCE], outfile: path.join(outdir, 'lean-wasm.js') }),
    build({
      ...common,
      entryPoints: {
        app: path.join(repoRoot, 'apps', app, 'src/main.ts'),
        ...Object.fromEntries(
          Object.entries(WORKERS[app] ?? {}).map(([name, src]) => [name, path.join(repoRoot, src)]),
        ),
      },
      outdir,
      // What the sources import dynamically (PGlite without DATABASE_URL, BullMQ with REDIS_URL)
      // becomes a chunk loaded when imported: in one file, the external imports of such
      // modules would be hoisted to the top and evaluated at start.
      splitting: true,
      chunkNames: '[name]-[hash]',
      banner: { js: BANNER },
      external: Object.keys(EXTERNAL),
      plugins: [leanWasmFirst(), sourceImportMetaUrl(outdir)],
    }),
  ]);

  const externals = externalImports(main.metafile).filter((s) => !isBuiltin(s));
  const missing = externals.filter((s) => !(packageName(s) in OPTIONAL) && !resolvableFrom(outdir, s));
  if (missing.length)
    throw new Error(
      `apps/${app}/dist cannot resolve ${missing.join(', ')}: add them to apps/${app}/package.json (dependencies)`,
    );
  // ESM evaluates a module's imports in the order they are written, each with everything it
  // imports: lean-wasm.js runs before app.js, its chunks and its external packages load.
  const outfile = path.join(outdir, 'main.js');
  await writeFile(
    outfile,
    [
      `// Generated by scripts/build.ts: apps/${app}/src/main.ts bundled into app.js, after lean-wasm.js`,
      `// (${LEAN_WASM}) set V8's WebAssembly flags. Run: node --enable-source-maps apps/${app}/dist/main.js`,
      "import './lean-wasm.js';",
      "import './app.js';",
      '',
    ].join('\n'),
  );
  const bytes = [lean, main].reduce(
    (n, r) => n + Object.values(r.metafile.outputs).reduce((m, o) => m + o.bytes, 0),
    0,
  );
  return { app, outfile, externals, bytes };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((a) => !(APPS as readonly string[]).includes(a));
  if (unknown.length) throw new Error(`unknown app(s) ${unknown.join(', ')}; known: ${APPS.join(', ')}`);
  const apps = requested.length ? (requested as App[]) : [...APPS];
  const started = performance.now();
  for (const result of await Promise.all(apps.map(buildApp))) {
    const size = (result.bytes / 1024 / 1024).toFixed(1);
    const ext = result.externals.join(', ') || 'none';
    console.log(`${path.relative(repoRoot, result.outfile)}  ${size} MB (with source maps)  externals: ${ext}`);
  }
  console.log(`built in ${Math.round(performance.now() - started)} ms`);
}
