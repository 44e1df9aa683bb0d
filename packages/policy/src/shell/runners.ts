/**
 * Program runners: programs that run other programs or code. The curated list below says, per
 * program, how to read its arguments to find what it runs; policy can name more (`runners` on a
 * command rule), which are then treated as opaque. A runner's reading is only trusted when every
 * word it reads is static; the analysis refuses the rest (see analyze.ts).
 *
 * Each reader gets the words after the program name, with `undefined` for a word the policy cannot
 * know (an expansion, a substitution, an unquoted glob or brace), and says what runs.
 */
import { isDangerousVariable } from './builtins.js';
import type { ConstructKind } from './constructs.js';

export type RunnerReading =
  /** The words `args[from..to)` are a command line of their own (a wrapped program). */
  | {
      type: 'runs';
      from: number;
      to?: number;
      /** The runner adds arguments the line does not show (xargs: its input; find: file names). */
      feedsArguments?: boolean;
      /** A word replaced at run time (`{}`): in the program name it makes the program unknown. */
      replace?: string;
    }
  /** A bash script given as a string (`sh -c '...'`), judged like the line itself. */
  | { type: 'script'; source: string }
  /** Code from a file on the target (`bash deploy.sh`, `python3 app.py`). */
  | { type: 'script-file'; path: string }
  /** Code read from standard input (`bash`, `python3 -`, `perl` with no script). */
  | { type: 'stdin' }
  /** Files the program writes (tee, cp, sed -i ...): a later run of them is not what the line shows. */
  | { type: 'writes'; paths: string[]; unknown?: boolean }
  | { type: 'dynamic'; kind: ConstructKind; detail: string };

export type Args = readonly (string | undefined)[];
type Reader = (args: Args, program: string) => RunnerReading[];

export interface RunnerContext {
  /** An interactive terminal was requested with the exec: pagers and editors can spawn shells. */
  pty: boolean;
}

const dynamic = (kind: ConstructKind, detail: string): RunnerReading[] => [{ type: 'dynamic', kind, detail }];
const opaque =
  (why: string): Reader =>
  (_args, program) =>
    dynamic('program-runner', `${program} ${why}`);

interface OptionSpec {
  /** Short option letters that take a value (attached or the next word). */
  value?: string;
  /** Short option letters that take nothing. */
  flags?: string;
  /** Long options (without `--`) that take a value (`--opt=v` or `--opt v`). */
  longValue?: string[];
  /** Long options that take nothing. */
  longFlags?: string[];
  /** Numeric options such as `nice -10`. */
  numeric?: boolean;
  /** `+o` turns an option off (shells): read like `-o`. */
  plus?: boolean;
}

type OptionScan =
  { ok: true; next: number; seen: Map<string, string | true> } | { ok: false; option: string | undefined };

/**
 * Reads options up to the first operand (or `--`). Fails closed: an option the spec does not
 * know may take a value or run something, so the caller refuses the line.
 */
export function scanOptions(args: Args, spec: OptionSpec, start = 0): OptionScan {
  const seen = new Map<string, string | true>();
  let i = start;
  while (i < args.length) {
    let word = args[i];
    if (word === undefined) return { ok: false, option: undefined };
    if (word === '--') return { ok: true, next: i + 1, seen };
    if (spec.plus && /^\+[A-Za-z]+$/.test(word)) word = '-' + word.slice(1);
    if (!word.startsWith('-') || word === '-') break;
    if (word.startsWith('--')) {
      const [name, inline] = splitLong(word.slice(2));
      if (spec.longValue?.includes(name)) {
        if (inline !== undefined) seen.set(name, inline);
        else {
          const value = args[i + 1];
          if (value === undefined) return { ok: false, option: word };
          seen.set(name, value);
          i++;
        }
      } else if (spec.longFlags?.includes(name) && inline === undefined) seen.set(name, true);
      else return { ok: false, option: word };
      i++;
      continue;
    }
    if (spec.numeric && /^-\d+$/.test(word)) {
      i++;
      continue;
    }
    let consumedNext = false;
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!;
      if (spec.value?.includes(letter)) {
        const rest = word.slice(j + 1);
        if (rest) seen.set(letter, rest);
        else {
          const value = args[i + 1];
          if (value === undefined) return { ok: false, option: `-${letter}` };
          seen.set(letter, value);
          consumedNext = true;
        }
        break;
      }
      if (!spec.flags?.includes(letter)) return { ok: false, option: `-${letter}` };
      seen.set(letter, true);
    }
    i += consumedNext ? 2 : 1;
  }
  return { ok: true, next: i, seen };
}

function splitLong(option: string): [string, string | undefined] {
  const eq = option.indexOf('=');
  return eq < 0 ? [option, undefined] : [option.slice(0, eq), option.slice(eq + 1)];
}

const unreadable = (program: string, option: string | undefined): RunnerReading[] =>
  dynamic(
    'program-runner',
    option === undefined
      ? `${program} has an argument the policy cannot read, so what it runs is unknown`
      : `${program} option ${option} is not one the policy can read`,
  );

/** A wrapper: options, then maybe fixed operands (timeout's duration), then the program it runs. */
function wrapper(spec: OptionSpec & { operands?: number; noProgram?: 'nothing' | 'shell' }): Reader {
  return (args, program) => {
    const scan = scanOptions(args, spec);
    if (!scan.ok) return unreadable(program, scan.option);
    let i = scan.next;
    for (let n = 0; n < (spec.operands ?? 0); n++) {
      if (args[i] === undefined) return unreadable(program, undefined);
      i++;
    }
    if (i >= args.length) {
      return spec.noProgram === 'shell'
        ? dynamic('interactive-shell', `${program} without a program starts a shell, which reads its input`)
        : [];
    }
    return [{ type: 'runs', from: i }];
  };
}

/** sudo: its own `VAR=value` words, `-s`/`-i` (a shell), `-e` (an editor). */
const sudo: Reader = (args, program) => {
  const scan = scanOptions(args, {
    value: 'ugCDhprtTU',
    flags: 'AbEHkKnPSlVvsie',
    longValue: [
      'user',
      'group',
      'chdir',
      'close-from',
      'host',
      'prompt',
      'role',
      'type',
      'command-timeout',
      'other-user',
    ],
    longFlags: [
      'askpass',
      'background',
      'preserve-env',
      'set-home',
      'remove-timestamp',
      'reset-timestamp',
      'non-interactive',
      'preserve-groups',
      'stdin',
      'list',
      'validate',
      'login',
      'shell',
      'edit',
    ],
  });
  if (!scan.ok) return unreadable(program, scan.option);
  if (scan.seen.has('e') || scan.seen.has('edit')) return dynamic('program-runner', `${program} -e opens an editor`);
  if (scan.seen.has('l') || scan.seen.has('list') || scan.seen.has('v') || scan.seen.has('validate')) return [];
  const assignments = settings(args, scan.next, program);
  if (!Array.isArray(assignments)) return [assignments];
  const i = assignments[0]!;
  const shell = scan.seen.has('s') || scan.seen.has('i') || scan.seen.has('shell') || scan.seen.has('login');
  if (shell) {
    if (i >= args.length) return dynamic('interactive-shell', `${program} -s/-i without a command starts a shell`);
    const words = args.slice(i);
    if (words.some((w) => w === undefined)) return unreadable(program, undefined);
    return [{ type: 'script', source: (words as string[]).join(' ') }];
  }
  if (i >= args.length) return [];
  return [{ type: 'runs', from: i }];
};

/** env: `-S` splits a string into a command (its own escapes and `${VAR}`): refused. */
const env: Reader = (args, program) => {
  const scan = scanOptions(args, {
    value: 'uC',
    flags: 'i0v',
    longValue: ['unset', 'chdir', 'default-signal', 'ignore-signal', 'block-signal'],
    longFlags: ['ignore-environment', 'null', 'debug', 'list-signal-handling'],
  });
  if (!scan.ok) {
    return scan.option?.startsWith('-S') || scan.option === '--split-string'
      ? dynamic('program-runner', `${program} -S splits a string into a command line with its own rules`)
      : unreadable(program, scan.option);
  }
  let i = scan.next;
  if (args[i] === '-') i++;
  const assignments = settings(args, i, program);
  if (!Array.isArray(assignments)) return [assignments];
  i = assignments[0]!;
  if (i >= args.length) return [];
  return [{ type: 'runs', from: i }];
};

/** `NAME=value` words a wrapper puts in the environment: where the program starts, or a construct. */
function settings(args: Args, start: number, program: string): [number] | RunnerReading {
  let i = start;
  // Like env and sudo, any word with `=` before the program is a setting, whatever its name
  // (`BASH_FUNC_ls%%=() { ...; }` defines a function for the bash it starts).
  while (i < args.length && args[i]?.includes('=')) {
    const name = args[i]!.slice(0, args[i]!.indexOf('='));
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || isDangerousVariable(name)) {
      return {
        type: 'dynamic',
        kind: 'environment',
        detail: `${program} sets ${name}, which changes which programs run or what they load`,
      };
    }
    i++;
  }
  return [i];
}

/** Bash-compatible shells: `-c` scripts are parsed and judged; files run; no script reads stdin. */
const BASH_LIKE = new Set(['sh', 'bash', 'dash', 'ash', 'rbash', 'posh']);
const shell: Reader = (args, program) => {
  if (!BASH_LIKE.has(program)) {
    return dynamic('inline-code', `${program} reads a grammar the policy does not parse (only bash and sh)`);
  }
  const scan = scanOptions(args, {
    value: 'oO',
    flags: 'abcCeEfhHiklmnprsStuvxBDPT',
    longValue: ['rcfile', 'init-file'],
    longFlags: ['norc', 'noprofile', 'posix', 'restricted', 'login', 'noediting', 'verbose', 'dump-strings'],
    plus: true,
  });
  if (!scan.ok) {
    return scan.option === undefined && args.some((a) => a !== undefined && /^-[A-Za-z]*c[A-Za-z]*$/.test(a))
      ? dynamic('inline-code', `${program} -c runs a script built at run time`)
      : unreadable(program, scan.option);
  }
  const plain = args.slice(scan.next);
  const seen = scan.seen;
  if (seen.has('i')) return dynamic('interactive-shell', `${program} -i is an interactive shell`);
  if (seen.has('c')) {
    const script = plain[0];
    if (script === undefined) {
      return plain.length === 0
        ? dynamic('inline-code', `${program} -c without a script`)
        : dynamic('inline-code', `${program} -c runs a script built at run time`);
    }
    return [{ type: 'script', source: script }];
  }
  if (seen.has('s') || plain.length === 0) return [{ type: 'stdin' }];
  const file = plain[0];
  if (file === undefined) return unreadable(program, undefined);
  return [{ type: 'script-file', path: file }];
};

interface InterpreterSpec {
  /** Options that run code given on the command line. */
  inline: string[];
  /** Options that are safe (no code from the command line), with or without a value. */
  safe: OptionSpec;
  /** `-m module`: modules that are known not to run code from their own arguments. */
  modules?: ReadonlySet<string>;
}

const PYTHON_MODULES = new Set([
  'http.server',
  'json.tool',
  'venv',
  'pip',
  'ensurepip',
  'unittest',
  'pytest',
  'py_compile',
  'compileall',
  'zipfile',
  'tarfile',
  'gzip',
  'base64',
  'calendar',
  'site',
  'sysconfig',
  'platform',
  'uuid',
  'mimetypes',
]);

const INTERPRETERS: Record<string, InterpreterSpec> = {
  python: {
    inline: ['-c'],
    safe: { value: 'WXm', flags: 'uBEsSOqvbIPd', longFlags: ['version', 'help'] },
    modules: PYTHON_MODULES,
  },
  perl: { inline: ['-e', '-E', '-M', '-m', '-d', '-x'], safe: { value: 'I', flags: 'wWXTtlnpasc0iC' } },
  ruby: { inline: ['-e'], safe: { value: 'Ir', flags: 'wWvdnpalcs' } },
  node: {
    inline: ['-e', '--eval', '-p', '--print', '--import', '--loader', '--experimental-loader', '-i', '--interactive'],
    safe: {
      value: 'r',
      flags: 'c',
      longValue: ['require', 'env-file', 'input-type', 'max-old-space-size', 'stack-size', 'title', 'conditions'],
      longFlags: ['no-warnings', 'enable-source-maps', 'check', 'trace-warnings', 'trace-uncaught', 'no-deprecation'],
    },
  },
  php: { inline: ['-r', '-a', '-B', '-R', '-E', '-d'], safe: { value: 'fc', flags: 'nqHl' } },
};

function interpreterFamily(program: string): string | undefined {
  if (/^(python[0-9.]*|pypy[0-9.]*)$/.test(program)) return 'python';
  if (/^perl[0-9.]*$/.test(program)) return 'perl';
  if (/^ruby[0-9.]*$/.test(program)) return 'ruby';
  if (program === 'node' || program === 'nodejs') return 'node';
  if (/^php[0-9.]*$/.test(program)) return 'php';
  if (
    /^(lua[0-9.]*|luajit|tclsh[0-9.]*|wish[0-9.]*|expect|Rscript|R|julia|pwsh|powershell|guile|racket|sbcl|ocaml|ghci|runghc|scala|groovy|jshell|jrunscript|erl|escript|elixir|iex|swift|gjs|qjs|deno|bun|java|irb|ipython[0-9.]*|jupyter)$/.test(
      program,
    )
  )
    return 'other';
  return undefined;
}

function interpreter(args: Args, program: string): RunnerReading[] {
  const family = interpreterFamily(program)!;
  const spec = INTERPRETERS[family];
  if (!spec) {
    // No curated reading: any option may take inline code; a script file or stdin is what runs.
    if (args.some((a) => a === undefined || a.startsWith('-')))
      return dynamic('inline-code', `${program} options may carry code the policy cannot read`);
    return args.length === 0 ? [{ type: 'stdin' }] : [{ type: 'script-file', path: args[0]! }];
  }
  for (const word of args) {
    if (word === undefined) return unreadable(program, undefined);
    if (!word.startsWith('-') || word === '-' || word === '--') break;
    const name = word.startsWith('--') ? splitLong(word)[0] : word.slice(0, 2);
    if (spec.inline.includes(name) || spec.inline.some((o) => !o.startsWith('--') && word.startsWith(o))) {
      return dynamic('inline-code', `${program} ${name} runs code given on the command line`);
    }
  }
  const scan = scanOptions(args, spec.safe);
  if (!scan.ok) return unreadable(program, scan.option);
  const module = scan.seen.get('m');
  if (typeof module === 'string') {
    return spec.modules?.has(module)
      ? []
      : dynamic('inline-code', `${program} -m ${module} is not a module known to run only files`);
  }
  const script = args[scan.next];
  if (scan.next >= args.length || script === '-') return [{ type: 'stdin' }];
  if (script === undefined) return unreadable(program, undefined);
  if (family === 'perl' && scan.seen.has('i')) return [{ type: 'script-file', path: script }];
  return [{ type: 'script-file', path: script }];
}

/** awk: the program text is code; system(), pipes and @load run other programs. */
const awk: Reader = (args, program) => {
  const scan = scanOptions(args, {
    value: 'Fvf',
    flags: 'bcCdghMnNOPrStVy',
    longValue: ['field-separator', 'assign', 'file'],
    longFlags: [
      'characters-as-bytes',
      'traditional',
      'posix',
      're-interval',
      'sandbox',
      'lint',
      'optimize',
      'version',
      'help',
    ],
  });
  if (!scan.ok) {
    const option = scan.option ?? '';
    return /^-(e|E|l|i)|^--(source|exec|load|include)/.test(option)
      ? dynamic('inline-code', `${program} ${option} loads or runs code the policy cannot read`)
      : unreadable(program, scan.option);
  }
  if (scan.seen.has('sandbox')) return [];
  const fromFile = scan.seen.get('f') ?? scan.seen.get('file');
  if (typeof fromFile === 'string') {
    return fromFile === '-' || fromFile.startsWith('/dev/') || fromFile.startsWith('/proc/')
      ? [{ type: 'stdin' }]
      : [{ type: 'script-file', path: fromFile }];
  }
  const text = args[scan.next];
  if (text === undefined) return unreadable(program, undefined);
  if (/\bsystem\s*\(|\||@load|@include/.test(text))
    return dynamic('inline-code', `${program}'s program runs commands (system() or a pipe)`);
  return />/.test(text) ? [{ type: 'writes', paths: [], unknown: true }] : [];
};

/** GNU sed: the `e` command and the `e` flag of `s` run commands; `w` writes files. */
const sed: Reader = (args, program) => {
  const scripts: string[] = [];
  let fromFile: string | undefined;
  const files: string[] = [];
  let sandbox = false;
  let inPlace = false;
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === undefined) return unreadable(program, undefined);
    if (word === '-e' || word === '--expression') {
      const script = args[++i];
      if (script === undefined) return unreadable(program, word);
      scripts.push(script);
    } else if (word.startsWith('--expression=')) scripts.push(word.slice('--expression='.length));
    else if (word === '-f' || word === '--file') fromFile = args[++i];
    else if (word.startsWith('--file=')) fromFile = word.slice(7);
    else if (word === '--sandbox') sandbox = true;
    else if (/^-[nrEsuz]*e$/.test(word)) {
      const script = args[++i];
      if (script === undefined) return unreadable(program, word);
      scripts.push(script);
    } else if (/^-[nrEsuz]+e./.test(word)) scripts.push(word.slice(word.indexOf('e') + 1));
    else if (
      /^-[nrEsuzi]+/.test(word) ||
      /^--(quiet|silent|regexp-extended|separate|unbuffered|null-data|posix|debug|in-place)/.test(word)
    ) {
      if (/^-[nrEsuz]*i/.test(word) || word.startsWith('--in-place')) inPlace = true;
      if (/^-e./.test(word)) scripts.push(word.slice(2));
    } else if (/^-(l|L)\d*$/.test(word) || word === '--line-length') continue;
    else if (word.startsWith('-') && word !== '-') return unreadable(program, word);
    else if (scripts.length === 0 && fromFile === undefined) scripts.push(word);
    else files.push(word);
  }
  const out: RunnerReading[] = [];
  if (inPlace) out.push({ type: 'writes', paths: files });
  if (sandbox) return out;
  if (fromFile !== undefined) {
    if (fromFile === '-' || fromFile.startsWith('/dev/') || fromFile.startsWith('/proc/')) return [{ type: 'stdin' }];
    out.push({ type: 'script-file', path: fromFile });
  }
  for (const script of scripts) {
    const reading = readSedScript(script);
    if (reading.runs) return dynamic('inline-code', `${program}'s script runs commands (the e command or flag)`);
    if (reading.writes.length) out.push({ type: 'writes', paths: reading.writes });
    if (reading.unknown) return dynamic('inline-code', `${program}'s script has a command the policy cannot read`);
  }
  return out;
};

/** A light reading of a sed script: is there an `e` command or flag, what does `w` write. */
export function readSedScript(script: string): { runs: boolean; writes: string[]; unknown: boolean } {
  const writes: string[] = [];
  let i = 0;
  const n = script.length;
  const skipSpace = () => {
    while (i < n && /[\s;]/.test(script[i]!)) i++;
  };
  const skipDelimited = (delim: string) => {
    while (i < n && script[i] !== delim) {
      if (script[i] === '\\') i++;
      if (script[i] === '\n' && delim !== '\n') return false;
      i++;
    }
    if (i >= n) return false;
    i++;
    return true;
  };
  const restOfLine = () => {
    const end = script.indexOf('\n', i);
    const text = script.slice(i, end < 0 ? n : end).trim();
    i = end < 0 ? n : end + 1;
    return text;
  };
  while (i < n) {
    skipSpace();
    if (i >= n) break;
    // Address: numbers, $, /re/, \cREc, ranges, steps, negation.
    for (;;) {
      const c = script[i];
      if (c === undefined) break;
      if (/[0-9$,~+]/.test(c) || c === ' ') i++;
      else if (c === '/') {
        i++;
        if (!skipDelimited('/')) return { runs: false, writes, unknown: true };
        while (/[IM]/.test(script[i] ?? '')) i++;
      } else if (c === '\\') {
        const delim = script[i + 1];
        if (delim === undefined) return { runs: false, writes, unknown: true };
        i += 2;
        if (!skipDelimited(delim)) return { runs: false, writes, unknown: true };
      } else break;
    }
    while (script[i] === '!' || script[i] === ' ') i++;
    const command = script[i++];
    if (command === undefined) break;
    if (command === '{' || command === '}') continue;
    if (command === '#' || command === ':') {
      restOfLine();
      continue;
    }
    if (command === 'e') return { runs: true, writes, unknown: false };
    if ('aic'.includes(command)) {
      restOfLine();
      continue;
    }
    if ('rRwW'.includes(command)) {
      const file = restOfLine();
      if (command === 'w' || command === 'W') writes.push(file);
      continue;
    }
    if ('btT'.includes(command)) {
      while (i < n && !/[;\n}]/.test(script[i]!)) i++;
      continue;
    }
    if ('qQlL'.includes(command)) {
      while (i < n && /[0-9 ]/.test(script[i]!)) i++;
      continue;
    }
    if ('=dDgGhHnNpPxzF'.includes(command)) continue;
    if (command === 's' || command === 'y') {
      const delim = script[i++];
      if (delim === undefined || delim === '\n' || delim === '\\') return { runs: false, writes, unknown: true };
      if (!skipDelimited(delim) || !skipDelimited(delim)) return { runs: false, writes, unknown: true };
      if (command === 'y') continue;
      while (i < n && /[0-9gpiImMe]/.test(script[i]!)) {
        if (script[i] === 'e') return { runs: true, writes, unknown: false };
        i++;
      }
      if (script[i] === 'w') {
        i++;
        writes.push(restOfLine());
      }
      continue;
    }
    return { runs: false, writes, unknown: true };
  }
  return { runs: false, writes, unknown: false };
}

/** find: -exec/-execdir/-ok/-okdir run a program per file; -fprint* write files. */
const find: Reader = (args) => {
  const out: RunnerReading[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (/^-(exec|execdir|ok|okdir)$/.test(word)) {
      const end = args.findIndex((w, j) => j > i && (w === ';' || w === '+'));
      out.push({ type: 'runs', from: i + 1, to: end < 0 ? args.length : end, feedsArguments: true, replace: '{}' });
      i = end < 0 ? args.length : end;
    } else if (/^-(fprint|fprint0|fprintf|fls)$/.test(word) && args[i + 1] !== undefined) {
      out.push({ type: 'writes', paths: [args[i + 1]!] });
    }
  }
  return out;
};

/** xargs: runs its program with arguments read from standard input. */
const xargs: Reader = (args, program) => {
  const scan = scanOptions(args, {
    value: 'adEILnPs',
    flags: '0rtpxo',
    longValue: [
      'arg-file',
      'delimiter',
      'eof',
      'replace',
      'max-lines',
      'max-args',
      'max-procs',
      'max-chars',
      'process-slot-var',
    ],
    longFlags: ['null', 'no-run-if-empty', 'verbose', 'interactive', 'exit', 'open-tty', 'show-limits'],
  });
  if (!scan.ok) {
    // -e[eof], -i[replace], -l[lines]: optional values attached.
    if (scan.option && /^-[eil]/.test(scan.option)) return unreadable(program, scan.option);
    return unreadable(program, scan.option);
  }
  if (scan.next >= args.length) return [];
  const replace = scan.seen.get('I') ?? scan.seen.get('replace');
  return [{ type: 'runs', from: scan.next, feedsArguments: true, ...(typeof replace === 'string' ? { replace } : {}) }];
};

/** Programs that run a command given through one of their options, or through their input. */
function commandOptions(test: (args: readonly string[]) => string | undefined): Reader {
  return (args, program) => {
    if (args.some((a) => a === undefined)) return unreadable(program, undefined);
    const why = test(args as string[]);
    return why === undefined ? [] : dynamic('program-runner', `${program} ${why}`);
  };
}

const has = (args: readonly string[], re: RegExp) => args.find((a) => re.test(a));

const GIT_CONFIG_RUNS =
  /(^|\.)(alias\.|pager\.|editor|sshcommand|fsmonitor|hookspath|askpass|gitproxy|textconv|clean|smudge|process|helper|program|external|cmd|command|packobjectshook)/i;

const git = commandOptions((args) => {
  const option = has(
    args,
    /^(-c|--config-env|--exec-path|-u|--upload-pack|--receive-pack|--exec|--extcmd|--template|--config)(=|$)/,
  );
  if (option) return `${option.split('=')[0]} can name a program to run`;
  const sub = args.find((a) => !a.startsWith('-'));
  if (sub === 'filter-branch' || sub === 'filter-repo') return `${sub} runs shell snippets`;
  const subIndex = sub === undefined ? -1 : args.indexOf(sub);
  const next = args[subIndex + 1];
  if ((sub === 'bisect' && next === 'run') || (sub === 'submodule' && args.includes('foreach')))
    return `${sub} ${next === 'run' ? 'run' : 'foreach'} runs a command`;
  if (sub === 'rebase' && has(args, /^(-x|--exec)/)) return 'rebase --exec runs a command';
  if (sub === 'config' && args.slice(subIndex + 1).some((a) => GIT_CONFIG_RUNS.test(a)))
    return 'config sets a key that runs a program';
  return undefined;
});

const PAGERS =
  /^(less|more|most|pg|man|info|journalctl|systemctl|loginctl|machinectl|busctl|coredumpctl|networkctl|resolvectl|homectl|git|dmesg)$/;

/** The curated list of program runners, by program name (basename). */
export const PROGRAM_RUNNERS: Record<string, Reader> = {
  sudo,
  doas: wrapper({ value: 'uC', flags: 'nL' }),
  pkexec: wrapper({ longValue: ['user'], longFlags: ['disable-internal-agent', 'keep-cwd'] }),
  env,
  nohup: wrapper({}),
  nice: wrapper({ value: 'n', longValue: ['adjustment'], numeric: true }),
  ionice: wrapper({
    value: 'cnpPu',
    flags: 't',
    longValue: ['class', 'classdata', 'pid', 'pgid', 'uid'],
    longFlags: ['ignore'],
  }),
  timeout: wrapper({
    value: 'sk',
    flags: 'v',
    longValue: ['signal', 'kill-after'],
    longFlags: ['foreground', 'preserve-status', 'verbose'],
    operands: 1,
  }),
  time: wrapper({
    value: 'fo',
    flags: 'apvq',
    longValue: ['format', 'output'],
    longFlags: ['append', 'portability', 'verbose', 'quiet'],
  }),
  stdbuf: wrapper({ value: 'ioe', longValue: ['input', 'output', 'error'] }),
  setsid: wrapper({ flags: 'cfw', longFlags: ['ctty', 'fork', 'wait'] }),
  chrt: wrapper({ value: 'TPD', flags: 'abdfiorvRme', operands: 1 }),
  taskset: wrapper({ flags: 'ac', longFlags: ['all-tasks', 'cpu-list'], operands: 1 }),
  chroot: wrapper({ longValue: ['userspec', 'groups'], longFlags: ['skip-chdir'], operands: 1, noProgram: 'shell' }),
  unbuffer: wrapper({ flags: 'p' }),
  catchsegv: wrapper({}),
  sshpass: wrapper({ value: 'pfdPe', flags: 'v' }),
  'ssh-agent': wrapper({ value: 'aEPt', flags: 'cDdks' }),
  busybox: wrapper({}),
  toybox: wrapper({}),
  flock: (args, program) => {
    const scan = scanOptions(args, {
      value: 'wEc',
      flags: 'sxunoFv',
      longValue: ['timeout', 'conflict-exit-code', 'command'],
      longFlags: ['shared', 'exclusive', 'unlock', 'nonblock', 'close', 'no-fork', 'verbose'],
    });
    if (!scan.ok) return unreadable(program, scan.option);
    const command = scan.seen.get('c') ?? scan.seen.get('command');
    if (typeof command === 'string') return [{ type: 'script', source: command }];
    const target = args[scan.next];
    if (target === undefined) return unreadable(program, undefined);
    const after = args[scan.next + 1];
    if (after === '-c' || after === '--command') {
      const script = args[scan.next + 2];
      return script === undefined ? unreadable(program, after) : [{ type: 'script', source: script }];
    }
    if (/^\d+$/.test(target) || scan.next + 1 >= args.length) return [];
    return [{ type: 'runs', from: scan.next + 1 }];
  },
  watch: (args, program) => {
    const scan = scanOptions(args, {
      value: 'nq',
      flags: 'bcdegtxprw',
      longValue: ['interval', 'equexit'],
      longFlags: [
        'beep',
        'color',
        'no-color',
        'differences',
        'errexit',
        'exec',
        'no-title',
        'precise',
        'no-wrap',
        'chgexit',
      ],
    });
    if (!scan.ok) return unreadable(program, scan.option);
    if (scan.next >= args.length) return [];
    if (scan.seen.has('x') || scan.seen.has('exec')) return [{ type: 'runs', from: scan.next }];
    const words = args.slice(scan.next);
    if (words.some((w) => w === undefined)) return unreadable(program, undefined);
    return [{ type: 'script', source: (words as string[]).join(' ') }];
  },
  script: (args, program) => {
    const scan = scanOptions(args, {
      value: 'cEOIBTm',
      flags: 'aefqkt',
      longValue: ['command', 'echo', 'log-out', 'log-in', 'log-io', 'log-timing', 'logging-format', 'output-limit'],
      longFlags: ['append', 'return', 'flush', 'force', 'quiet'],
    });
    if (!scan.ok) return unreadable(program, scan.option);
    const command = scan.seen.get('c') ?? scan.seen.get('command');
    if (typeof command === 'string') return [{ type: 'script', source: command }];
    return dynamic('interactive-shell', `${program} without -c starts a shell`);
  },
  su: (args, program) => {
    const scan = scanOptions(args, {
      value: 'cgGsw',
      flags: 'lmpPf',
      longValue: ['command', 'group', 'supp-group', 'shell', 'whitelist-environment', 'session-command'],
      longFlags: ['login', 'preserve-environment', 'pty', 'fast'],
    });
    if (!scan.ok) return unreadable(program, scan.option);
    if (scan.seen.has('s') || scan.seen.has('shell'))
      return dynamic('program-runner', `${program} -s runs a named shell`);
    const command = scan.seen.get('c') ?? scan.seen.get('command') ?? scan.seen.get('session-command');
    let rest = args.slice(scan.next);
    if (rest[0] === '-') rest = rest.slice(1);
    if (typeof command !== 'string') return dynamic('interactive-shell', `${program} without -c starts a shell`);
    if (rest.length > 1) return dynamic('program-runner', `${program} passes extra arguments to the shell`);
    return [{ type: 'script', source: command }];
  },
  runuser: (args, program) => {
    const scan = scanOptions(args, {
      value: 'ugGcsw',
      flags: 'lmpPf',
      longValue: ['user', 'group', 'supp-group', 'command', 'shell', 'whitelist-environment', 'session-command'],
      longFlags: ['login', 'preserve-environment', 'pty', 'fast'],
    });
    if (!scan.ok) return unreadable(program, scan.option);
    const command = scan.seen.get('c') ?? scan.seen.get('command');
    if (typeof command === 'string') return [{ type: 'script', source: command }];
    if (scan.seen.has('u') || scan.seen.has('user'))
      return scan.next < args.length ? [{ type: 'runs', from: scan.next }] : [];
    return dynamic('interactive-shell', `${program} without -c or -u starts a shell`);
  },
  sg: (args, program) => {
    const rest = args.slice(args[0] === '-c' ? 1 : 0);
    const words = rest[0] === '-c' ? rest.slice(1) : rest.slice(1);
    if (words.length === 0) return dynamic('interactive-shell', `${program} without a command starts a shell`);
    if (words.some((w) => w === undefined)) return unreadable(program, undefined);
    const command = args.includes('-c') ? words.filter((w) => w !== '-c') : words;
    return [{ type: 'script', source: (command as string[]).join(' ') }];
  },
  strace: wrapper({ value: 'oeEpPusabIOSX', flags: 'cCdDfFhiknqQrtTvVwxyYzZ' }),
  ltrace: wrapper({ value: 'oeEpusaAnDlxFLI', flags: 'bcCfhirStTV' }),
  valgrind: (args, program) => {
    let i = 0;
    while (i < args.length && args[i]?.startsWith('-')) i++;
    if (args.slice(0, i).some((a) => a === undefined)) return unreadable(program, undefined);
    return i < args.length ? [{ type: 'runs', from: i }] : [];
  },
  find,
  xargs,
  awk,
  gawk: awk,
  mawk: awk,
  nawk: awk,
  sed,
  gsed: sed,
  git,
  tar: commandOptions((args) => {
    const option = has(
      args,
      /^--(to-command|checkpoint-action|use-compress-program|info-script|new-volume-script|rsh-command|rmt-command)/,
    );
    if (option) return `${option.split('=')[0]} runs a command`;
    const bundle = args.find((a, i) => (i === 0 && /^[A-Za-z]+$/.test(a)) || /^-[A-Za-z]+$/.test(a));
    const short = args.filter((a, i) => /^-[A-Za-z]+$/.test(a) || (i === 0 && /^[A-Za-z]+$/.test(a)));
    if (bundle !== undefined && short.some((a) => /[IF]/.test(a))) return '-I/-F runs a program';
    return undefined;
  }),
  bsdtar: opaque('has options that run programs'),
  zip: commandOptions((args) => (has(args, /^(-TT|--unzip-command)/) ? '-TT runs a command' : undefined)),
  rsync: commandOptions((args) =>
    has(args, /^(--rsh|--rsync-path)|^-[A-Za-z]*e/) ? '-e names a program to run' : undefined,
  ),
  ssh: commandOptions((args) => {
    const opts = args.flatMap((a, i) => (a === '-o' ? [args[i + 1] ?? ''] : a.startsWith('-o') ? [a.slice(2)] : []));
    return opts.some((o) => /(proxy|local|knownhosts)command|permitlocalcommand|^\s*match/i.test(o))
      ? '-o names a command to run'
      : undefined;
  }),
  scp: commandOptions((args) =>
    has(args, /^-[A-Za-z]*S|^-o.*command/i) || args.some((a, i) => a === '-o' && /command/i.test(args[i + 1] ?? ''))
      ? '-S or -o names a program to run'
      : undefined,
  ),
  sftp: opaque('reads commands (with shell escapes) from a batch file or its input'),
  sort: commandOptions((args) => (has(args, /^--compress-program/) ? '--compress-program runs a program' : undefined)),
  split: commandOptions((args) => (has(args, /^--filter/) ? '--filter runs a shell command' : undefined)),
  make: commandOptions((args) =>
    has(args, /=|^--eval|^-E$|^-f-?$|^--file=-$/)
      ? 'variables on its command line can change the commands it runs'
      : undefined,
  ),
  gcc: commandOptions((args) =>
    has(args, /^-wrapper|^-fplugin|^-B/) ? '-wrapper/-fplugin/-B run other programs' : undefined,
  ),
  apt: commandOptions((args) =>
    has(args, /invoke|pre-install-pkgs/i) ? 'has an -o hook that runs a command' : undefined,
  ),
  dpkg: commandOptions((args) => (has(args, /^--(pre|post)-invoke/) ? 'has a hook that runs a command' : undefined)),
  rpm: commandOptions((args) => (has(args, /^(--eval|-E|--pipe)/) ? '--eval/--pipe runs code' : undefined)),
  socat: commandOptions((args) =>
    has(args, /(^|[,!:])\s*(exec|system)[:,]/i) ? 'has an EXEC/SYSTEM address' : undefined,
  ),
  nc: commandOptions((args) =>
    has(args, /^-[A-Za-z]*[ec]|^--(exec|sh-exec|lua-exec)/) ? '-e/-c runs a program for the connection' : undefined,
  ),
  nmap: commandOptions((args) => (has(args, /^--(script|interactive)/) ? '--script runs scripts' : undefined)),
  tcpdump: commandOptions((args) => (has(args, /^-[A-Za-z]*z/) ? '-z runs a program' : undefined)),
  ip: commandOptions((args) => (args.includes('exec') ? 'exec runs a program in a namespace' : undefined)),
  npm: commandOptions((args) =>
    args[0] === 'exec' || args[0] === 'x' ? `${args[0]} runs a package's program` : undefined,
  ),
  pnpm: commandOptions((args) => (args[0] === 'dlx' ? 'dlx downloads and runs a package' : undefined)),
  yarn: commandOptions((args) => (args[0] === 'dlx' ? 'dlx downloads and runs a package' : undefined)),
};

for (const alias of ['g++', 'cc', 'c++', 'clang', 'clang++']) PROGRAM_RUNNERS[alias] = PROGRAM_RUNNERS.gcc!;
for (const alias of ['apt-get', 'aptitude']) PROGRAM_RUNNERS[alias] = PROGRAM_RUNNERS.apt!;
for (const alias of ['ncat', 'netcat', 'nc.traditional', 'nc.openbsd']) PROGRAM_RUNNERS[alias] = PROGRAM_RUNNERS.nc!;
for (const alias of ['gtar']) PROGRAM_RUNNERS[alias] = PROGRAM_RUNNERS.tar!;
for (const alias of ['slogin']) PROGRAM_RUNNERS[alias] = PROGRAM_RUNNERS.ssh!;
for (const name of BASH_LIKE) PROGRAM_RUNNERS[name] = shell;
for (const name of ['zsh', 'ksh', 'mksh', 'fish', 'csh', 'tcsh', 'yash', 'elvish', 'nu', 'xonsh'])
  PROGRAM_RUNNERS[name] = shell;

/** Programs that read commands from their input or run whatever they are told: always refused. */
const OPAQUE: Record<string, string> = {
  eval: 'runs a string as code',
  ed: 'runs shell commands (!) read from its input',
  red: 'reads editor commands from its input',
  ex: 'runs shell commands read from its input',
  vi: 'runs shell commands read from its input',
  vim: 'runs shell commands read from its input',
  nvim: 'runs shell commands read from its input',
  view: 'runs shell commands read from its input',
  vimdiff: 'runs shell commands read from its input',
  rvim: 'reads editor commands from its input',
  emacs: 'evaluates code read from its input or options',
  emacsclient: 'evaluates code read from its input or options',
  nano: 'runs commands read from its input',
  pico: 'runs commands read from its input',
  joe: 'runs commands read from its input',
  mc: 'runs commands read from its input',
  mcedit: 'runs commands read from its input',
  psql: 'runs shell escapes (\\!) read from its input or -c',
  mysql: 'runs shell escapes (\\!) read from its input',
  mariadb: 'runs shell escapes (\\!) read from its input',
  sqlite3: 'runs shell escapes (.shell) read from its input',
  gdb: 'runs shell commands read from its input or options',
  lldb: 'runs shell commands read from its input or options',
  ftp: 'runs shell escapes read from its input',
  mail: 'runs shell escapes (~!) read from its input',
  mailx: 'runs shell escapes (~!) read from its input',
  dc: 'runs shell commands (!) read from its input',
  m4: 'runs shell commands (syscmd) read from its input',
  at: 'schedules commands read from its input',
  batch: 'schedules commands read from its input',
  crontab: 'installs commands to run later',
  parallel: 'runs shell command strings',
  'xdg-open': 'opens whatever program a file type names',
  tmux: 'starts shells and sends them keystrokes',
  screen: 'starts shells and sends them keystrokes',
  perf: 'runs and attaches to programs with many options',
  'systemd-run': 'runs a program as a unit with many options',
  'start-stop-daemon': 'runs a program with many options',
  daemonize: 'runs a program with many options',
  cpulimit: 'runs a program with many options',
  firejail: 'runs a program with many options',
  bwrap: 'runs a program with many options',
  capsh: 'runs a shell with many options',
  rlwrap: 'runs a program with many options',
  'xvfb-run': 'runs a program through a shell',
  setarch: 'runs a program or a shell',
  linux32: 'runs a program or a shell',
  linux64: 'runs a program or a shell',
  numactl: 'runs a program with many options',
  cgexec: 'runs a program with many options',
  unshare: 'runs a program or a shell with many options',
  nsenter: 'runs a program or a shell in another namespace',
  setpriv: 'runs a program with many options',
  newgrp: 'starts a shell',
  sudoedit: 'opens an editor',
  editor: 'is the system editor, which runs shell commands read from its input',
  'sensible-editor': 'is the system editor, which runs shell commands read from its input',
  'sensible-browser': 'opens whatever program the system names',
  'x-www-browser': 'opens whatever program the system names',
  'www-browser': 'opens whatever program the system names',
  npx: 'downloads and runs a package',
  pnpx: 'downloads and runs a package',
  bunx: 'downloads and runs a package',
  uvx: 'downloads and runs a package',
  pipx: 'downloads and runs a package',
  'dbus-launch': 'runs a program with many options',
  'dbus-run-session': 'runs a program with many options',
};
for (const [name, why] of Object.entries(OPAQUE)) PROGRAM_RUNNERS[name] = opaque(why);

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
