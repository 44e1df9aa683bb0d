#!/usr/bin/env node
// The `warden` command. It runs the bundle, dist/warden.js: plain JavaScript, no TypeScript
// loader, which is all a packed install (`npm pack`) contains. Installed from a repository
// checkout (`npm install -g ./apps/cli` links the checkout), it runs the TypeScript sources
// through the checkout's tsx instead when there is no bundle or a source is newer than it, so
// a linked `warden` never runs code older than the checkout.
import { existsSync, readFileSync, statSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const here = (relative) => new URL(relative, import.meta.url);
const bundle = here('../dist/warden.js');
const sources = here('../src/main.ts');

/** Whether the bundle was built from the sources as they are now (dist/inputs.json lists them). */
function bundleIsCurrent() {
  try {
    const built = statSync(bundle).mtimeMs;
    const inputs = JSON.parse(readFileSync(here('../dist/inputs.json'), 'utf8'));
    return inputs.every((input) => statSync(new URL(input, here('../'))).mtimeMs <= built);
  } catch {
    return false;
  }
}

if (!existsSync(sources) || bundleIsCurrent()) {
  await import(bundle.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    if (!existsSync(bundle)) {
      const root = fileURLToPath(new URL('../../../', import.meta.url));
      process.stderr.write(
        `warden: this checkout has neither the CLI bundle nor its dependencies; in ${root} run\n` +
          '  npx -y pnpm@10.34.8 install && npx -y pnpm@10.34.8 --filter @warden/cli build\n',
      );
      process.exit(1);
    }
  }
  if (register) {
    register();
    await import(sources.href);
  } else {
    await import(bundle.href);
  }
}
