import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How the running CLI can be started again from a shell, for the commands it prints. */
export interface SelfInvocation {
  /** `warden` when that name on the PATH is this CLI, else this CLI by its absolute path. */
  command: string;
  onPath: boolean;
  /** The command that puts this CLI on the PATH. */
  install: string;
}

/** A word for a POSIX shell: as it is when it has nothing special, else single-quoted. */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function realpath(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The CLI's package directory (apps/cli) from the running module's URL: src/main.ts from
 * the sources, dist/warden.js from the bundle, both one level down.
 */
export function packageDirOf(moduleUrl: string): string {
  return fileURLToPath(new URL('..', moduleUrl)).replace(/[\\/]$/, '');
}

/**
 * What a printed command should call to run this CLI: `warden` if the first `warden` on
 * PATH is this package's bin (a linked or copied `npm install -g`), otherwise node and
 * the package's bin/warden.js by absolute path, which works from any directory (also
 * when the CLI was started as `pnpm warden` from the repository).
 */
export function selfInvocation(
  env: Record<string, string | undefined>,
  packageDir: string,
  execPath = process.execPath,
): SelfInvocation {
  const bin = join(packageDir, 'bin', 'warden.js');
  const ours = realpath(bin) ?? bin;
  const install = `npm install -g ${shellWord(packageDir)}`;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, 'warden');
    const target = realpath(candidate);
    if (!target || !isExecutable(candidate)) continue;
    // The first `warden` is the one the shell runs: ours, or someone else's.
    if (target === ours) return { command: 'warden', onPath: true, install };
    break;
  }
  return { command: `${shellWord(execPath)} ${shellWord(ours)}`, onPath: false, install };
}
