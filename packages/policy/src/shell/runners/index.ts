/**
 * Program runners: programs that run other programs or code. The curated list says, per program,
 * how to read its arguments to find what it runs (wrappers.ts: the program they wrap; code.ts:
 * shells, interpreters, awk and sed; commands.ts: find, xargs and programs whose options run
 * commands, and programs that are always opaque). Policy can name more (`runners` on a command
 * rule), which are then opaque. A reading is only trusted when every word it reads is static; the
 * analysis refuses the rest (see ../analyze.ts).
 */
import { awk, BASH_LIKE, interpreter, interpreterFamily, sed, shell } from './code.js';
import { COMMAND_RUNNERS } from './commands.js';
import { opaque, type Reader } from './reading.js';
import { wrapper, WRAPPERS } from './wrappers.js';

export type { RunnerReading } from './reading.js';
export { readSedScript } from './sed-script.js';

/** The curated list of program runners, by program name (basename). */
export const PROGRAM_RUNNERS: Record<string, Reader> = {
  ...WRAPPERS,
  ...COMMAND_RUNNERS,
  awk,
  gawk: awk,
  mawk: awk,
  nawk: awk,
  sed,
  gsed: sed,
};
for (const name of BASH_LIKE) PROGRAM_RUNNERS[name] = shell;
for (const name of ['zsh', 'ksh', 'mksh', 'fish', 'csh', 'tcsh', 'yash', 'elvish', 'nu', 'xonsh'])
  PROGRAM_RUNNERS[name] = shell;

const PAGERS =
  /^(pager|sensible-pager|pydoc[0-9.]*|less|more|most|pg|man|info|journalctl|systemctl|loginctl|machinectl|busctl|coredumpctl|networkctl|resolvectl|homectl|git|dmesg)$/;

/** How a program runs others, or undefined when it is not a known runner. */
export function runnerReader(program: string, extra: ReadonlySet<string>): Reader | undefined {
  if (extra.has(program)) return opaque('is a program runner named by policy');
  const known = PROGRAM_RUNNERS[program];
  if (known) return known;
  if (interpreterFamily(program)) return interpreter;
  if (/^ld(-linux.*|-musl.*)?\.so(\.\d+)?$/.test(program) || /^ld-linux/.test(program))
    return wrapper({
      longValue: ['library-path', 'inhibit-rpath', 'audit', 'preload', 'argv0'],
      longFlags: ['verify', 'list'],
    });
  return undefined;
}

/** Pagers and programs that page their output: with a terminal, a keystroke can start a shell. */
export function pagesWithTerminal(program: string): boolean {
  return PAGERS.test(program);
}
