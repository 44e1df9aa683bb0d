import { scanOptions } from './options.js';
import { dynamic, opaque, unreadable, type Reader, type RunnerReading } from './reading.js';

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
      out.push({ type: 'writes', writes: [{ file: args[i + 1]! }] });
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

/** Programs that run what their options or subcommands name. */
export const COMMAND_RUNNERS: Record<string, Reader> = {
  find,
  xargs,
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

for (const alias of ['g++', 'cc', 'c++', 'clang', 'clang++']) COMMAND_RUNNERS[alias] = COMMAND_RUNNERS.gcc!;
for (const alias of ['apt-get', 'aptitude']) COMMAND_RUNNERS[alias] = COMMAND_RUNNERS.apt!;
for (const alias of ['ncat', 'netcat', 'nc.traditional', 'nc.openbsd']) COMMAND_RUNNERS[alias] = COMMAND_RUNNERS.nc!;
for (const alias of ['gtar']) COMMAND_RUNNERS[alias] = COMMAND_RUNNERS.tar!;
for (const alias of ['slogin']) COMMAND_RUNNERS[alias] = COMMAND_RUNNERS.ssh!;

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
  'run-parts': 'runs every program in a directory',
  runcon: 'runs a program in another security context with many options',
  fakeroot: 'runs a program with a preloaded library and many options',
  pee: 'runs shell command strings',
  vipe: 'opens an editor in a pipeline',
  entr: 'runs a command when files change',
  watchexec: 'runs a command when files change',
  tsp: 'queues commands to run later',
  nq: 'queues commands to run later',
  sem: 'runs shell command strings',
  schroot: 'runs a program or a shell in another root',
  'systemd-nspawn': 'runs a program or a shell in a container',
  proot: 'runs a program or a shell in another root',
  chpst: 'runs a program with many options',
  trickle: 'runs a program with many options',
  sshfs: 'runs a program named in its options',
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
for (const [name, why] of Object.entries(OPAQUE)) COMMAND_RUNNERS[name] = opaque(why);
