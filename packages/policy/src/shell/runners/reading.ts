import type { ConstructKind } from '../constructs.js';
import type { Write } from '../writers.js';

/**
 * What a runner runs, read from its arguments. Each reader gets the words after the program
 * name, with `undefined` for a word the policy cannot know (an expansion, a substitution, an
 * unquoted glob or brace).
 */
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
  | { type: 'writes'; writes: Write[] }
  | { type: 'dynamic'; kind: ConstructKind; detail: string };

export type Args = readonly (string | undefined)[];
export type Reader = (args: Args, program: string) => RunnerReading[];

export interface RunnerContext {
  /** An interactive terminal was requested with the exec: pagers and editors can spawn shells. */
  pty: boolean;
}

export const dynamic = (kind: ConstructKind, detail: string): RunnerReading[] => [{ type: 'dynamic', kind, detail }];
export const opaque =
  (why: string): Reader =>
  (_args, program) =>
    dynamic('program-runner', `${program} ${why}`);

export const unreadable = (program: string, option: string | undefined): RunnerReading[] =>
  dynamic(
    'program-runner',
    option === undefined
      ? `${program} has an argument the policy cannot read, so what it runs is unknown`
      : `${program} option ${option} is not one the policy can read`,
  );
