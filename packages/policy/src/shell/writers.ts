/**
 * Files a program writes, read from its arguments: a line that writes a file and then runs it is
 * not what it shows (see `written-then-run`). A write is a named file, or files whose names the
 * policy cannot know put into a directory (`into`: `.` for the working directory, undefined when
 * the directory is not known either).
 */
export type Write = { file: string } | { into: string | undefined };

/**
 * Where programs run by name are found: unknown files put here can shadow any command, and a bare
 * allow-list entry matches a program given by a path in one of them.
 */
export const SYSTEM_DIRS: ReadonlySet<string> = new Set([
  '/bin',
  '/sbin',
  '/usr/bin',
  '/usr/sbin',
  '/usr/local/bin',
  '/usr/local/sbin',
]);

/**
 * Programs that only read the files they are given. Any other program given a path in a system
 * directory may be writing there (the long tail of writers cannot be listed), so the programs a
 * line runs by name after it are not what they seem.
 */
const READ_ONLY = new Set([
  'ls',
  'cat',
  'stat',
  'file',
  'head',
  'tail',
  'wc',
  'grep',
  'egrep',
  'fgrep',
  'rg',
  'less',
  'more',
  'du',
  'df',
  'md5sum',
  'sha1sum',
  'sha256sum',
  'sha512sum',
  'b2sum',
  'cksum',
  'cmp',
  'diff',
  'which',
  'whereis',
  'readlink',
  'realpath',
  'basename',
  'dirname',
  'strings',
  'od',
  'xxd',
  'hexdump',
  'namei',
  'getfacl',
  'lsattr',
  'tree',
  'nl',
  'column',
  'cut',
  'jq',
  'find',
  'xargs',
  'sudo',
  'env',
  'timeout',
  'nice',
]);

const inSystemDir = (path: string) => SYSTEM_DIRS.has(normalizeDir(path)) || SYSTEM_DIRS.has(parentOf(path));

/** `/usr/bin/../bin//ls` → `/usr/bin/ls`, lexically (the policy does not read the target's links). */
export function normalizeDir(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return (path.startsWith('/') ? '/' : '') + parts.join('/');
}

function parentOf(path: string): string {
  const normal = normalizeDir(path);
  return normal.slice(0, normal.lastIndexOf('/')) || '/';
}

type Args = readonly (string | undefined)[];

const optionValue = (args: Args, short: string, long: string): string | undefined | null => {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === undefined) continue;
    if (a === short || a === `--${long}`) return args[i + 1];
    if (a.startsWith(`--${long}=`)) return a.slice(long.length + 3);
    if (short.length === 2 && a.startsWith(short) && a.length > 2 && !a.startsWith('--')) return a.slice(2);
  }
  return null;
};

/** What a program writes, given its arguments (`undefined` for a word the policy cannot know). */
export function writtenBy(program: string, args: Args): Write[] {
  const operands = args.filter((a) => a === undefined || !a.startsWith('-'));
  const named = (paths: readonly (string | undefined)[]): Write[] =>
    paths.map((p) => (p === undefined ? { into: undefined } : { file: p }));
  const writes = ((): Write[] => {
    switch (program) {
      case 'tee':
      case 'touch':
      case 'truncate':
      case 'sponge':
        return named(operands);
      case 'cp':
      case 'mv':
      case 'install':
      case 'ln':
      case 'rsync':
      case 'scp': {
        // Each source's name lands in the destination; a recursive copy puts names the line does
        // not show there too.
        const target = optionValue(args, '-t', 'target-directory');
        const dest = target === null ? operands[operands.length - 1] : target;
        const recursive = args.some((a) => a === undefined || /^-[A-Za-z]*[rRa]|^--(recursive|archive)/.test(a));
        const out = named(operands);
        if (recursive || target !== null) out.push({ into: dest });
        return out;
      }
      case 'dd':
        return args.flatMap((a): Write[] =>
          a === undefined ? [{ into: undefined }] : a.startsWith('of=') ? [{ file: a.slice(3) }] : [],
        );
      case 'sort': {
        const out = optionValue(args, '-o', 'output');
        return out === null ? [] : named([out]);
      }
      case 'uniq':
        return operands.length >= 2 ? named([operands[1]]) : [];
      case 'split':
      case 'csplit': {
        if (operands.length < 2) return [{ into: '.' }];
        const prefix = operands[operands.length - 1];
        return [{ into: prefix === undefined ? undefined : prefix.includes('/') ? parentOf(prefix) : '.' }];
      }
      case 'curl': {
        const out: Write[] = [];
        args.forEach((a, i) => {
          if (a === undefined) out.push({ into: undefined });
          else if (a === '--output' || /^-[A-Za-z]*o$/.test(a)) out.push(...named([args[i + 1]]));
          else if (a.startsWith('--output=')) out.push({ file: a.slice(9) });
          else if (a === '--remote-name' || a === '--remote-name-all' || /^-[A-Za-z]*O/.test(a))
            out.push({ into: optionValue(args, '--output-dir', 'output-dir') ?? '.' });
        });
        return out;
      }
      case 'wget': {
        const out = optionValue(args, '-O', 'output-document');
        if (out !== null) return named([out]);
        return [{ into: optionValue(args, '-P', 'directory-prefix') ?? '.' }];
      }
      case 'tar':
      case 'gtar':
      case 'bsdtar': {
        if (!args.some((a) => a === undefined || /^(-?[A-Za-z]*x|--extract|--get)/.test(a))) return [];
        return [{ into: optionValue(args, '-C', 'directory') ?? '.' }];
      }
      case 'unzip':
        return [{ into: optionValue(args, '-d', 'd') ?? '.' }];
      case '7z':
      case '7za':
        return [{ into: optionValue(args, '-o', 'o') ?? '.' }];
      case 'cpio':
      case 'patch':
      case 'git':
      case 'gunzip':
      case 'bunzip2':
      case 'unxz':
      case 'uudecode':
      case 'ar':
        return [{ into: '.' }];
      default:
        return [];
    }
  })();
  // The long tail: a program that is not known to only read, given a path in a system directory.
  if (!READ_ONLY.has(program) && args.some((a) => a !== undefined && a.startsWith('/') && inSystemDir(a))) {
    const dir = args.find((a) => a !== undefined && a.startsWith('/') && inSystemDir(a))!;
    writes.push({ into: SYSTEM_DIRS.has(normalizeDir(dir)) ? normalizeDir(dir) : parentOf(dir) });
  }
  return writes;
}

export function isSystemDir(dir: string | undefined): boolean {
  return dir !== undefined && SYSTEM_DIRS.has(normalizeDir(dir));
}
