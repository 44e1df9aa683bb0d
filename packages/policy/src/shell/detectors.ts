import type { SimpleCommand } from './analyze.js';

/** What a built-in detector found, for the refusal message; undefined when nothing. */
export type Detector = (commands: SimpleCommand[]) => string | undefined;

const DOWNLOADERS = new Set(['curl', 'wget', 'fetch', 'aria2c']);
const INTERPRETERS = /^(sh|bash|dash|zsh|ksh|ash|fish|python[0-9.]*|perl|ruby|node|php)$/;

const shortFlags = (args: string[]) =>
  args
    .filter((a) => /^-[A-Za-z]+$/.test(a))
    .join('')
    .replace(/-/g, '');

function recursiveRootDelete(commands: SimpleCommand[]): string | undefined {
  for (const c of commands) {
    if (c.program !== 'rm') continue;
    const flags = shortFlags(c.args);
    const recursive = /[rR]/.test(flags) || c.args.includes('--recursive');
    const targets = c.args.filter((a) => !a.startsWith('-'));
    const root = targets.find((t) => /^\/+(\*|\.\*?)?$/.test(t) || /^\/+\*$/.test(t));
    if (recursive && (root !== undefined || c.args.includes('--no-preserve-root')))
      return `a recursive delete of ${root ?? '/'}`;
  }
  return undefined;
}

function pipeToShell(commands: SimpleCommand[]): string | undefined {
  for (const c of commands) {
    if (!DOWNLOADERS.has(c.program)) continue;
    for (let next = c.pipesTo; next; next = next.pipesTo) {
      if (INTERPRETERS.test(next.program)) return `a download from ${c.program} piped into ${next.program}`;
    }
  }
  // `sh -c "$(curl ...)"` and `bash <(curl ...)`: an interpreter running what a downloader printed.
  for (const c of commands) {
    if (!INTERPRETERS.test(c.program)) continue;
    if (c.args.some((a) => /^"?[$<]\(\s*(curl|wget|fetch)\b/.test(a))) return `a download run by ${c.program}`;
  }
  return undefined;
}

function powerOff(commands: SimpleCommand[]): string | undefined {
  for (const c of commands) {
    if (['shutdown', 'reboot', 'halt', 'poweroff'].includes(c.program)) return `${c.program}`;
    if ((c.program === 'init' || c.program === 'telinit') && ['0', '6'].includes(c.args[0] ?? ''))
      return `${c.program} ${c.args[0]}`;
    if (c.program === 'systemctl' && c.args.some((a) => /^(poweroff|reboot|halt|kexec)$/.test(a)))
      return `systemctl ${c.args.find((a) => !a.startsWith('-'))}`;
  }
  return undefined;
}

function diskWipe(commands: SimpleCommand[]): string | undefined {
  for (const c of commands) {
    if (/^mkfs(\..+)?$/.test(c.program) || c.program === 'wipefs' || c.program === 'mkswap') return c.program;
    if (c.program === 'dd' && c.args.some((a) => /^of=\/dev\/(sd|nvme|hd|vd|xvd|mmcblk|disk)/.test(a)))
      return 'dd onto a block device';
    if (c.program === 'shred' && c.args.some((a) => a.startsWith('/dev/'))) return 'shred of a device';
  }
  return undefined;
}

export const SHELL_DETECTOR_FUNCTIONS: Record<string, Detector> = {
  recursive_root_delete: recursiveRootDelete,
  pipe_to_shell: pipeToShell,
  power_off: powerOff,
  disk_wipe: diskWipe,
};
