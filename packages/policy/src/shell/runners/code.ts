import { scanOptions, splitLong, type OptionSpec } from './options.js';
import { dynamic, unreadable, type Args, type Reader, type RunnerReading } from './reading.js';
import { readSedScript } from './sed-script.js';

/** Bash-compatible shells: `-c` scripts are parsed and judged; files run; no script reads stdin. */
export const BASH_LIKE = new Set(['sh', 'bash', 'dash', 'ash', 'rbash', 'posh']);
export const shell: Reader = (args, program) => {
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
  'ensurepip',
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

export function interpreterFamily(program: string): string | undefined {
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

export function interpreter(args: Args, program: string): RunnerReading[] {
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
export const awk: Reader = (args, program) => {
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
  // `print > "file"` (a redirection only follows print or printf in awk; comparisons inside need parentheses).
  const redirects = [...text.matchAll(/\bprintf?\b[^;{}]*?(>>?|\|)\s*("([^"]*)"|[^\s;{}]*)/g)];
  if (redirects.length === 0) return [];
  return [
    {
      type: 'writes',
      writes: redirects.map((m) => (m[3] !== undefined && m[3] !== '' ? { file: m[3] } : { into: undefined })),
    },
  ];
};

/** GNU sed: the `e` command and the `e` flag of `s` run commands; `w` writes files. */
export const sed: Reader = (args, program) => {
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
  if (inPlace) out.push({ type: 'writes', writes: files.map((file) => ({ file })) });
  if (sandbox) return out;
  if (fromFile !== undefined) {
    if (fromFile === '-' || fromFile.startsWith('/dev/') || fromFile.startsWith('/proc/')) return [{ type: 'stdin' }];
    out.push({ type: 'script-file', path: fromFile });
  }
  for (const script of scripts) {
    const reading = readSedScript(script);
    if (reading.runs) return dynamic('inline-code', `${program}'s script runs commands (the e command or flag)`);
    if (reading.writes.length) out.push({ type: 'writes', writes: reading.writes.map((file) => ({ file })) });
    if (reading.unknown) return dynamic('inline-code', `${program}'s script has a command the policy cannot read`);
  }
  return out;
};
