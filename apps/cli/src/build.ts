// Bundles the CLI into one plain JavaScript file, apps/cli/dist/warden.js, so the installed
// `warden` starts in a tenth of the time tsx takes (~0.1 s instead of ~0.6 s: it runs inside
// `PGPASSWORD="$(warden token)"`) and needs nothing from the repository: a packed install
// (`npm pack`, whose prepack runs this) holds only bin/ and dist/.
//
//   npx -y pnpm@10.34.8 --filter @warden/cli build   (= node --import tsx src/build.ts)
//
// Next to the bundle, dist/inputs.json lists the sources it was built from (relative to
// apps/cli): bin/warden.js runs the sources instead when, in a checkout, one is newer.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface CliBuild {
  outfile: string;
  /** The bundled sources, relative to apps/cli. */
  inputs: string[];
  bytes: number;
}

export async function buildCli(outdir = path.join(packageDir, 'dist')): Promise<CliBuild> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const outfile = path.join(outdir, 'warden.js');
  const result = await build({
    entryPoints: [path.join(packageDir, 'src/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The CLI imports only Node built-ins and workspace sources (@warden/recording): everything
    // else is in the file, so it runs wherever it is copied.
    packages: 'bundle',
    banner: { js: '#!/usr/bin/env node' },
    logLevel: 'warning',
    metafile: true,
    absWorkingDir: packageDir,
  });
  const external = Object.values(result.metafile.outputs)
    .flatMap((o) => o.imports)
    .filter((i) => i.external && !i.path.startsWith('node:'));
  if (external.length) throw new Error(`the CLI bundle imports ${external.map((i) => i.path).join(', ')}`);
  const inputs = Object.keys(result.metafile.inputs)
    .map((input) => path.relative(packageDir, path.resolve(packageDir, input)).split(path.sep).join('/'))
    .sort();
  await writeFile(path.join(outdir, 'inputs.json'), JSON.stringify(inputs, null, 2) + '\n');
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  return { outfile, inputs, bytes };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = await buildCli();
  console.log(
    `${path.relative(process.cwd(), built.outfile)}  ${(built.bytes / 1024).toFixed(0)} kB from ${built.inputs.length} sources`,
  );
}
