import type { Construct } from './constructs.js';

/**
 * Bash builtins, read as allow-list: the ones below run no program (or run the program named in
 * their arguments, which is then judged); every other builtin that can run code or change how a
 * name resolves is a construct. A name that is not here is looked up as a program.
 */
const INERT = new Set([
  ':',
  'true',
  'false',
  'echo',
  'printf',
  'pwd',
  'cd',
  'test',
  '[',
  'exit',
  'return',
  'shift',
  'break',
  'continue',
  'wait',
  'umask',
  'type',
  'getopts',
  'set',
  'shopt',
  'jobs',
  'times',
  'dirs',
  'pushd',
  'popd',
  'help',
  'logout',
  'ulimit',
  'unalias',
  'disown',
  'suspend',
  'caller',
  'history',
  'read',
  'readarray',
  'mapfile',
  'unset',
  'kill',
  'bg',
  'fg',
  'complete',
  'compopt',
  'bind',
  'compgen',
  'local',
  'declare',
  'typeset',
  'export',
  'readonly',
  'let',
]);

/** Builtins that run a string or a file as code, or change which program a name runs. */
const CODE: Record<string, Construct> = {
  eval: { kind: 'eval', detail: 'eval runs a string as code' },
  source: { kind: 'source', detail: 'source runs a file as shell code' },
  '.': { kind: 'source', detail: '. runs a file as shell code' },
  fc: { kind: 'eval', detail: 'fc runs commands from the history' },
  alias: { kind: 'program-lookup', detail: 'alias changes what a command name runs' },
  enable: { kind: 'program-lookup', detail: 'enable loads or disables builtins' },
};

const WRAPPING = new Set(['exec', 'command', 'builtin', 'hash', 'trap']);

export function isBuiltin(name: string): boolean {
  return INERT.has(name) || name in CODE || WRAPPING.has(name);
}

/**
 * Variables that decide which program a name runs or what a program loads and executes: setting
 * them is a construct. The patterns are broad on purpose (`*PATH`, `*_OPTIONS`, `GIT_*`).
 */
const DANGEROUS_VARIABLE =
  /^(PATH|.*PATH|LD_.*|DYLD_.*|BASH_ENV|ENV|BASH_.*|SHELLOPTS|BASHOPTS|PS[0-9]|PROMPT_COMMAND|IFS|HOME|XDG_.*|SHELL|PAGER|.*_PAGER|MANPAGER|EDITOR|VISUAL|.*_EDITOR|BROWSER|LESSOPEN|LESSCLOSE|GIT_.*|PYTHON.*|PERL.*|RUBY.*|NODE_.*|.*_OPTIONS|.*OPTS|.*OPT|RSYNC_.*|SSH_.*|SUDO_.*|.*ASKPASS|MAKE.*|AWK.*|GCONV_PATH|LOCPATH|OPENSSL_.*|LUA_.*|R_.*|PHP.*|TCL.*|GLOBIGNORE|HIST.*|COMP_.*|.*_COMMAND|.*_CMD|.*_PROG|.*_PROGRAM|TAR_.*|GZIP|BZIP2?|XZ_.*|ZSTD_.*|JAVA_.*|_JAVA_.*|CLASSPATH|TERMINFO.*)$/;

export function isDangerousVariable(name: string): boolean {
  return DANGEROUS_VARIABLE.test(name);
}

export interface BuiltinReading {
  constructs: Construct[];
  /** The builtin runs the command made of its arguments from this index on (exec, command). */
  runsFrom?: number;
}

const names = (args: readonly (string | undefined)[]) => args.filter((a) => a === undefined || !a.startsWith('-'));

/** What a builtin does with its arguments (`undefined` for a word the policy cannot know). */
export function builtinReading(name: string, args: readonly (string | undefined)[]): BuiltinReading {
  const code = CODE[name];
  if (code) {
    // `alias` alone lists aliases; `enable` alone lists builtins.
    if (
      (name === 'alias' || name === 'enable') &&
      args.every((a) => a !== undefined && a.startsWith('-') && !/[fn]/.test(a))
    )
      return { constructs: [] };
    return { constructs: [code] };
  }
  switch (name) {
    case 'exec':
    case 'command':
    case 'builtin': {
      let i = 0;
      while (i < args.length && args[i] !== undefined && args[i]!.startsWith('-') && args[i] !== '--') {
        if (name === 'command' && /[vV]/.test(args[i]!)) return { constructs: [] };
        if (name === 'exec' && args[i] === '-a') i++;
        i++;
      }
      if (args[i] === '--') i++;
      if (i < args.length && args.slice(0, i).some((a) => a === undefined))
        return { constructs: [{ kind: 'dynamic-program', detail: `${name} has options the policy cannot read` }] };
      return i < args.length ? { constructs: [], runsFrom: i } : { constructs: [] };
    }
    case 'hash':
      return args.some((a) => a === undefined || /^-[a-z]*p/.test(a))
        ? { constructs: [{ kind: 'program-lookup', detail: 'hash -p maps a command name to any file' }] }
        : { constructs: [] };
    case 'trap': {
      // Listing and resetting are fine; any handler is a string run as code later.
      const rest = args.filter((a) => a !== '--');
      if (rest.length === 0 || rest.every((a) => a === '-l' || a === '-p' || (a !== undefined && /^-[lp]+$/.test(a))))
        return { constructs: [] };
      if (rest[0] === '-' || rest[0] === '') return { constructs: [] };
      return { constructs: [{ kind: 'eval', detail: 'trap runs a string as code when a signal or event comes' }] };
    }
    case 'compgen':
    case 'mapfile':
    case 'readarray':
      if (args.some((a) => a === undefined || /^-[A-Za-z]*[CF]/.test(a)))
        return { constructs: [{ kind: 'eval', detail: `${name} -C/-F runs a command or function` }] };
      return subscripts(name, names(args));
    case 'unset':
    case 'export':
    case 'declare':
    case 'typeset':
    case 'local':
    case 'readonly': {
      const dangerous = names(args).find((a) => a !== undefined && isDangerousVariable(a.split('=')[0]!));
      if (dangerous !== undefined) {
        return {
          constructs: [
            {
              kind: 'environment',
              detail: `${name} ${dangerous.split('=')[0]} changes which programs run or what they load`,
            },
          ],
        };
      }
      return subscripts(
        name,
        names(args).map((a) => a?.split('=')[0]),
      );
    }
    case 'read':
    case 'getopts':
    case 'wait': {
      // Their operands name variables they set.
      const dangerous = names(args).find((a) => a !== undefined && isDangerousVariable(a));
      if (dangerous !== undefined) {
        return {
          constructs: [{ kind: 'environment', detail: `${name} sets ${dangerous}, which changes which programs run` }],
        };
      }
      return subscripts(name, name === 'read' ? args.filter((a) => a === undefined || a.includes('[')) : []);
    }
    case 'printf': {
      const target = args.includes('-v') ? args[args.indexOf('-v') + 1] : '';
      if (target === undefined || isDangerousVariable(target)) {
        return {
          constructs: [{ kind: 'environment', detail: `printf -v sets ${target ?? 'a variable it cannot read'}` }],
        };
      }
      return subscripts(name, [target]);
    }
    case 'test':
    case '[':
    case 'let':
      return subscripts(
        name,
        args.filter((a) => a === undefined || a.includes('[')),
      );
    default:
      return { constructs: [] };
  }
}

/** Names with a subscript (`a[$(cmd)]`) are evaluated arithmetically by these builtins. */
function subscripts(name: string, words: readonly (string | undefined)[]): BuiltinReading {
  if (words.some((w) => w === undefined || w.includes('['))) {
    return { constructs: [{ kind: 'arithmetic', detail: `${name} evaluates a subscript or a name it cannot read` }] };
  }
  return { constructs: [] };
}
