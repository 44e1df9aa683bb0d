import type { SelfInvocation } from './self.js';

/** What a command may touch: injected so tests can run commands in-process. */
export interface CliContext {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Reads all of standard input (for `-` as a file name). */
  readStdin: () => Promise<string>;
  fetch: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Interrupts long-running commands (replay) on Ctrl-C. */
  signal?: AbortSignal;
  /** How printed commands run this CLI again (default: `warden`, on the PATH). */
  self?: SelfInvocation;
  /** For `warden --version`. */
  version?: string;
  /** Opens a URL in the user's browser; false when it could not (default: never opens one). */
  openBrowser?: (url: string) => Promise<boolean>;
}

/** One `warden <name>` command; adding one is adding a file under commands/ and a line in cli.ts. */
export interface Command {
  name: string;
  /** One line for `warden --help`. */
  summary: string;
  /** The full help text for `warden <name> --help`. */
  usage: string;
  /** Resolves to the exit code. */
  run(args: string[], ctx: CliContext): Promise<number>;
}

export const EXIT_OK = 0;
/** A verification failed, or the command could not do its job (API error, unreadable file). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Wrong arguments: the command's usage is printed and the exit code is 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** An expected failure with a message meant for the user (no stack trace). */
export class CliError extends Error {
  override name = 'CliError';
}
