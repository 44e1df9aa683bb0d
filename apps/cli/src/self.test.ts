import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { browserAvailable } from './browser.js';
import { packageDirOf, selfInvocation, shellWord } from './self.js';
import { tempDir } from './test-support.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A package directory laid out like apps/cli: bin/warden.js. */
function fakePackage(name: string): string {
  const dir = join(tmp.dir, name);
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'bin', 'warden.js'), '#!/usr/bin/env node\n');
  chmodSync(join(dir, 'bin', 'warden.js'), 0o755);
  return dir;
}

/** A PATH directory whose `warden` links to `target` (as npm install -g makes it). */
function binDir(name: string, target: string): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  symlinkSync(target, join(dir, 'warden'));
  return dir;
}

describe('selfInvocation', () => {
  const pkg = fakePackage('cli');
  const other = fakePackage('other-cli');

  it('is `warden` when the first warden on the PATH is this package, linked by npm install -g', () => {
    const bin = binDir('prefix-bin', join(pkg, 'bin', 'warden.js'));
    const self = selfInvocation({ PATH: ['/nonexistent', bin, '/usr/bin'].join(':') }, pkg, '/opt/node/bin/node');
    expect(self).toEqual({ command: 'warden', onPath: true, install: `npm install -g ${pkg}` });
  });

  it('runs node and bin/warden.js by absolute path when warden is not on the PATH', () => {
    const self = selfInvocation({ PATH: '/nonexistent:/usr/bin' }, pkg, '/opt/node/bin/node');
    expect(self.onPath).toBe(false);
    expect(self.command).toBe(`/opt/node/bin/node ${join(pkg, 'bin', 'warden.js')}`);
  });

  it('does not take another `warden` that comes first on the PATH for this one', () => {
    const theirs = binDir('their-bin', join(other, 'bin', 'warden.js'));
    const ours = binDir('our-bin', join(pkg, 'bin', 'warden.js'));
    const self = selfInvocation({ PATH: `${theirs}:${ours}` }, pkg, '/usr/bin/node');
    expect(self).toMatchObject({ command: `/usr/bin/node ${join(pkg, 'bin', 'warden.js')}`, onPath: false });
  });

  it('quotes paths with spaces or quotes for the shell', () => {
    const spaced = fakePackage("it's here");
    const self = selfInvocation({ PATH: '' }, spaced, '/Applications/My Node/node');
    expect(self.command).toBe(`'/Applications/My Node/node' '${join(tmp.dir, "it'\\''s here")}/bin/warden.js'`);
    expect(self.install).toBe(`npm install -g '${join(tmp.dir, "it'\\''s here")}'`);
  });

  it('finds the package directory from src/main.ts and from the bundle dist/warden.js alike', () => {
    expect(packageDirOf('file:///repo/apps/cli/src/main.ts')).toBe('/repo/apps/cli');
    expect(packageDirOf('file:///usr/lib/node_modules/@warden/cli/dist/warden.js')).toBe(
      '/usr/lib/node_modules/@warden/cli',
    );
  });
});

describe('shellWord', () => {
  it('leaves plain words alone and single-quotes the rest', () => {
    expect(shellWord('/usr/bin/node')).toBe('/usr/bin/node');
    expect(shellWord('a b')).toBe("'a b'");
    expect(shellWord('$HOME')).toBe("'$HOME'");
    expect(shellWord("it's")).toBe("'it'\\''s'");
  });
});

describe('browserAvailable', () => {
  it('needs a display on Linux, and is off with WARDEN_NO_BROWSER anywhere', () => {
    expect(browserAvailable({}, 'linux')).toBe(false);
    expect(browserAvailable({ DISPLAY: ':0' }, 'linux')).toBe(true);
    expect(browserAvailable({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux')).toBe(true);
    expect(browserAvailable({}, 'darwin')).toBe(true);
    expect(browserAvailable({ WARDEN_NO_BROWSER: '1' }, 'darwin')).toBe(false);
  });
});
