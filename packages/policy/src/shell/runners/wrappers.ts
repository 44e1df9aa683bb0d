import { isDangerousVariable } from '../builtins.js';
import { scanOptions, type OptionSpec } from './options.js';
import { dynamic, unreadable, type Args, type Reader, type RunnerReading } from './reading.js';

/** A wrapper: options, then maybe fixed operands (timeout's duration), then the program it runs. */
export function wrapper(spec: OptionSpec & { operands?: number; noProgram?: 'nothing' | 'shell' }): Reader {
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

/** Programs that run the program (or the shell string) their arguments name. */
/** prlimit: resource options carry their values attached; `-p pid` changes a running process. */
const prlimit: Reader = (args, program) => {
  for (let i = 0; i < args.length; i++) {
    const word = args[i];
    if (word === undefined) return unreadable(program, undefined);
    if (word === '--') return i + 1 < args.length ? [{ type: 'runs', from: i + 1 }] : [];
    if (/^(-p|--pid)(=|$)/.test(word)) return [];
    if (word === '-o' || word === '--output') i++;
    else if (!word.startsWith('-')) return [{ type: 'runs', from: i }];
  }
  return [];
};

export const WRAPPERS: Record<string, Reader> = {
  sudo,
  prlimit,
  choom: (args, program) => {
    const scan = scanOptions(args, { value: 'np', longValue: ['adjust', 'pid'] });
    if (!scan.ok) return unreadable(program, scan.option);
    if (scan.seen.has('p') || scan.seen.has('pid') || scan.next >= args.length) return [];
    return [{ type: 'runs', from: scan.next }];
  },
  eatmydata: wrapper({}),
  nocache: wrapper({}),
  chronic: wrapper({ flags: 'ev' }),
  ifne: wrapper({ flags: 'n' }),
  ccache: wrapper({}),
  torsocks: wrapper({ value: 'upaP', flags: 'iqd' }),
  tsocks: wrapper({}),
  proxychains: wrapper({ value: 'f', flags: 'q' }),
  proxychains4: wrapper({ value: 'f', flags: 'q' }),
  faketime: wrapper({ value: 'mf', flags: 'p', operands: 1 }),
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
};
