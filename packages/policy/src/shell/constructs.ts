/**
 * Constructs that keep a command line from being judged statically: the program that would run
 * is decided at run time (by an expansion, a string run as code, a file the line writes, input the
 * session sends), so neither an allow-list nor a deny-list can see it. The ids are recorded with
 * the decision and published in `command.blocked` events.
 */
export const CONSTRUCT_KINDS = [
  /** The line is not bash the parser can read. */
  'unparseable',
  /** Control characters or a line too long to judge. */
  'malformed',
  /** The program name comes from an expansion: a variable, a substitution, a glob or brace, $'...'. */
  'dynamic-program',
  /** eval and its kin run a string as code: eval, trap, compgen -C, mapfile -C, fc. */
  'eval',
  /** source and . run a file as shell code in the same shell. */
  'source',
  /** alias, hash -p, enable: change which program a name runs. */
  'program-lookup',
  /** Assignments that change how programs are found or loaded: PATH, LD_PRELOAD, BASH_ENV, ... */
  'environment',
  /** A shell or interpreter reads its code from standard input (here-doc, here-string, pipe, session). */
  'shell-input',
  /** Code on the command line in a language the policy does not read: python -c, awk system(), sed e. */
  'inline-code',
  /** A file written by the line is then run by it. */
  'written-then-run',
  /** A shell or interpreter runs a script file the policy cannot read (unless a rule lists it in `scripts`). */
  'script-file',
  /** A program that runs other programs in a way the policy cannot follow. */
  'program-runner',
  /** Arithmetic evaluation of a variable, an array subscript, prompt or indirect expansion (bash runs code in them). */
  'arithmetic',
  /** Something that starts an interactive shell, whose input no rule can read. */
  'interactive-shell',
] as const;

export type ConstructKind = (typeof CONSTRUCT_KINDS)[number];

/** One reason a line cannot be judged statically. */
export interface Construct {
  kind: ConstructKind;
  /** For the refusal message: what it is, naming programs and options, never argument values. */
  detail: string;
}
