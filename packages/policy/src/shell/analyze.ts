import type { Construct, ConstructKind } from './constructs.js';
import { pagesWithTerminal, runnerReader } from './runners/index.js';
import { builtinReading, isBuiltin, isDangerousVariable } from './builtins.js';
import {
  ARITH_ASSIGN_OPS,
  describeWord,
  nodeType,
  PARAM_AT_OP,
  parseBash,
  PIPE_OPS,
  REDIRECT,
  staticWord,
  TEST_ARITH_OPS,
  TEST_VAR_SET_OP,
  type ArithmExpr,
  type Assign,
  type BinaryArithm,
  type BinaryCmd,
  type BinaryTest,
  type CallExpr,
  type CaseClause,
  type CmdSubst,
  type Command,
  type CStyleLoop,
  type DblQuoted,
  type DeclClause,
  type ForClause,
  type FuncDecl,
  type IfClause,
  type Lit,
  type ParamExp,
  type ProcSubst,
  type Stmt,
  type StmtList,
  type TestExpr,
  type UnaryTest,
  type WhileClause,
  type Word,
  type WordIter,
  type WrappedStmt,
} from './syntax.js';
import { normalizeDir, writtenBy, type Write } from './writers.js';

/**
 * A static reading of one SSH exec command line, as bash would run it: every command it can run
 * (programs, builtins, and the programs runners run for it), and every construct that keeps the
 * policy from knowing which programs run (see constructs.ts). The line is parsed by mvdan/sh; the
 * walk is an allow-list of node types and builtins, so whatever it does not know is a construct.
 */
export interface SimpleCommand {
  /** Words after quote removal; a word the policy cannot know is its source text. */
  words: string[];
  /** Basename of the program, builtin or function; empty when the name is dynamic. */
  program: string;
  /** The name as written (a path when it contains `/`). */
  path: string;
  args: string[];
  /** The command the next stage of the pipeline runs (`a | b`), after its wrappers. */
  pipesTo?: SimpleCommand;
  /** A shell builtin or a function defined in the line: runs no program of its own. */
  builtin?: boolean;
}

export interface ShellAnalysis {
  commands: SimpleCommand[];
  constructs: Construct[];
}

export interface AnalyzeOptions {
  /** The exec asked for a terminal: pagers and editors can start shells from keystrokes. */
  pty?: boolean;
  /** More program runners, named by policy: always a construct. */
  runners?: ReadonlySet<string>;
  /** Script files (absolute paths) a shell or interpreter may run; any other is a construct. */
  scripts?: (path: string) => boolean;
}

/** Longest line judged; longer lines are a construct (refused where rules apply). */
export const MAX_COMMAND_LENGTH = 64 * 1024;
const MAX_DEPTH = 8;
/** /dev and /proc files are whatever they point at (/proc/self/exe is the shell, /dev/stdin the input). */
const SPECIAL_FILES = /^\/+(dev|proc)\//;
// Tabs and newlines are shell syntax; any other control character could be read differently by the target's shell.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

type Stdin =
  | { kind: 'session' }
  | { kind: 'pipe' }
  | { kind: 'heredoc' }
  | { kind: 'file'; path: string | undefined }
  | { kind: 'closed' };

interface Context {
  src: Buffer;
  depth: number;
  stdin: Stdin;
}

interface Resolved {
  outer?: SimpleCommand;
  inner?: SimpleCommand;
}

interface WordInfo {
  word: Word;
  /** Quote-removed text; undefined when it needs expansion the policy cannot do. */
  text: string | undefined;
}

export function analyzeCommandLine(line: string, options: AnalyzeOptions = {}): ShellAnalysis {
  const walker = new Walker(options);
  if (line.length > MAX_COMMAND_LENGTH) {
    walker.construct('malformed', `the command line is longer than ${MAX_COMMAND_LENGTH} characters`);
  } else if (CONTROL.test(line)) {
    walker.construct('malformed', 'the command line holds control characters');
  } else walker.script(line, { src: Buffer.from(line), depth: 0, stdin: { kind: 'session' } });
  walker.finish();
  return { commands: walker.commands, constructs: walker.constructs };
}

class Walker {
  readonly commands: SimpleCommand[] = [];
  readonly constructs: Construct[] = [];
  private readonly functions = new Set<string>();
  private readonly numeric = new Set<string>();
  private readonly written = new Set<string>();
  /** Files whose names the line does not show were written: a program run by path may be one. */
  private unknownWrite = false;
  /** Something may have been written where programs run by name are found. */
  private systemWrite = false;
  /** A `cd` may have moved the working directory into a system directory. */
  private cwdMaybeSystem = false;
  /** Variables with the integer attribute: every assignment to them is evaluated. */
  private readonly integers = new Set<string>();
  private readonly executed: { name: string; how: 'bare' | 'path' | 'script' }[] = [];
  private readonly extraRunners: ReadonlySet<string>;

  constructor(private readonly options: AnalyzeOptions) {
    this.extraRunners = options.runners ?? new Set();
  }

  construct(kind: ConstructKind, detail: string): void {
    if (!this.constructs.some((c) => c.kind === kind && c.detail === detail)) this.constructs.push({ kind, detail });
  }

  script(source: string, ctx: Context): void {
    if (ctx.depth > MAX_DEPTH) {
      this.construct('malformed', `shell scripts nest deeper than ${MAX_DEPTH} levels`);
      return;
    }
    const parsed = parseBash(source);
    if (!parsed.ok) {
      this.construct('unparseable', `it is not shell syntax the policy can read (${parsed.message})`);
      return;
    }
    this.stmts(parsed.stmts, ctx);
  }

  /** Files the line writes, run by the line: judged after the walk, whatever the order. */
  finish(): void {
    for (const { name, how } of this.executed) {
      if (this.written.has(name)) {
        this.construct('written-then-run', `it writes ${name} and runs it`);
      } else if (how === 'bare' ? this.systemWrite : this.unknownWrite) {
        this.construct(
          'written-then-run',
          how === 'bare'
            ? `it may write into a directory programs are run from, then runs ${name} by name`
            : `it writes a file it does not name and runs ${name}`,
        );
      }
    }
  }

  private stmts(stmts: Stmt[] | null, ctx: Context): Resolved {
    let last: Resolved = {};
    for (const stmt of stmts ?? []) last = this.stmt(stmt, ctx);
    return last;
  }

  private stmt(stmt: Stmt | null, ctx: Context): Resolved {
    if (!stmt) return {};
    let stdin = ctx.stdin;
    for (const redirect of stmt.Redirs ?? []) {
      if (redirect.Word) this.word(redirect.Word, ctx);
      if (redirect.Hdoc) this.word(redirect.Hdoc, ctx);
      const target = redirect.Word ? staticWord(redirect.Word) : undefined;
      const path = target && !target.expands ? target.text : undefined;
      switch (redirect.Op) {
        case REDIRECT.out:
        case REDIRECT.append:
        case REDIRECT.clobber:
        case REDIRECT.all:
        case REDIRECT.appendAll:
        case REDIRECT.readWrite:
          this.wrote(path === undefined ? { into: undefined } : { file: path });
          break;
        case REDIRECT.dupOut:
        case REDIRECT.dupIn:
          if (path === undefined || !/^(\d+-?|-)$/.test(path))
            this.wrote(path === undefined ? { into: undefined } : { file: path });
          break;
        case REDIRECT.in:
          stdin = { kind: 'file', path };
          break;
        case REDIRECT.hdoc:
        case REDIRECT.dashHdoc:
        case REDIRECT.hereString:
          stdin = { kind: 'heredoc' };
          break;
        default:
          this.construct('unparseable', 'it has a redirection the policy does not read');
      }
    }
    return this.command(stmt.Cmd, { ...ctx, stdin });
  }

  private wrote(write: Write): void {
    if ('file' in write) {
      if (!SPECIAL_FILES.test(write.file)) this.written.add(basename(write.file));
      return;
    }
    this.unknownWrite = true;
    // A directory named on the line may be on the target's PATH (~/.local/bin, ~/bin ...); the
    // working directory only after a cd the policy cannot place.
    const into = write.into;
    if (into !== '.' || this.cwdMaybeSystem) this.systemWrite = true;
  }

  private command(cmd: Command | null, ctx: Context): Resolved {
    if (!cmd) return {};
    const type = nodeType(cmd);
    switch (type) {
      case 'CallExpr':
        return this.call(cmd as CallExpr, ctx);
      case 'BinaryCmd': {
        const bin = cmd as BinaryCmd;
        if (!PIPE_OPS.has(bin.Op)) {
          this.stmt(bin.X, ctx);
          this.stmt(bin.Y, ctx);
          return {};
        }
        const left = this.stmt(bin.X, ctx);
        const right = this.stmt(bin.Y, { ...ctx, stdin: { kind: 'pipe' } });
        if (right.inner) {
          if (left.outer) left.outer.pipesTo = right.inner;
          if (left.inner) left.inner.pipesTo = right.inner;
        }
        return { outer: left.outer, inner: right.inner };
      }
      case 'Subshell':
      case 'Block':
        return this.stmts((cmd as StmtList).Stmts, ctx);
      case 'IfClause': {
        for (let clause: IfClause | null = cmd as IfClause; clause; clause = clause.Else) {
          this.stmts(clause.Cond, ctx);
          this.stmts(clause.Then, ctx);
        }
        return {};
      }
      case 'WhileClause':
        this.stmts((cmd as WhileClause).Cond, ctx);
        this.stmts((cmd as WhileClause).Do, ctx);
        return {};
      case 'ForClause': {
        const loop = (cmd as ForClause).Loop;
        if (nodeType(loop) === 'WordIter') {
          const iter = loop as WordIter;
          for (const item of iter.Items ?? []) this.word(item, ctx);
          if (iter.Name) this.assigned(iter.Name.Value, false);
        } else {
          const c = loop as CStyleLoop;
          this.arith(c.Init, ctx);
          this.arith(c.Cond, ctx);
          this.arith(c.Post, ctx);
        }
        this.stmts((cmd as ForClause).Do, ctx);
        return {};
      }
      case 'CaseClause': {
        const clause = cmd as CaseClause;
        this.word(clause.Word, ctx);
        for (const item of clause.Items ?? []) {
          for (const pattern of item.Patterns ?? []) this.word(pattern, ctx);
          this.stmts(item.Stmts, ctx);
        }
        return {};
      }
      case 'FuncDecl': {
        const fn = cmd as FuncDecl;
        if (fn.Name) this.functions.add(fn.Name.Value);
        this.stmt(fn.Body, ctx);
        return {};
      }
      case 'ArithmCmd':
        this.arith((cmd as { X: ArithmExpr | null }).X, ctx);
        return {};
      case 'LetClause':
        for (const expr of (cmd as { Exprs: ArithmExpr[] | null }).Exprs ?? []) this.arith(expr, ctx);
        return {};
      case 'TestClause':
        this.test((cmd as { X: TestExpr | null }).X, ctx);
        return {};
      case 'DeclClause':
        this.declaration(cmd as DeclClause, ctx);
        return {};
      case 'TimeClause':
      case 'CoprocClause':
        return this.stmt((cmd as WrappedStmt).Stmt, ctx);
      default:
        this.construct('unparseable', `it uses ${type}, which the policy does not read`);
        return {};
    }
  }

  private call(call: CallExpr, ctx: Context): Resolved {
    const args = call.Args ?? [];
    for (const assign of call.Assigns ?? []) this.assign(assign, ctx);
    for (const word of args) this.word(word, ctx);
    if (args.length === 0) return {};
    return this.run(
      args.map((word) => {
        const value = staticWord(word);
        return { word, text: value && !value.expands ? value.text : undefined };
      }),
      ctx,
    );
  }

  /** One command: its program or builtin, judged, and what it runs in turn. */
  private run(words: WordInfo[], ctx: Context, fed = false): Resolved {
    const head = words[0]!;
    const texts = words.map((w) => w.text);
    const shown = words.map((w) => w.text ?? sourceOf(w.word, ctx.src));
    if (head.text === undefined) {
      this.construct('dynamic-program', `the program name comes from an expansion (${describeWord(head.word)})`);
      const command: SimpleCommand = { words: shown, program: '', path: '', args: shown.slice(1) };
      this.commands.push(command);
      return { outer: command, inner: command };
    }
    const path = head.text;
    const program = basename(path);
    const command: SimpleCommand = { words: shown, program, path, args: shown.slice(1) };
    this.commands.push(command);
    if (!path.includes('/') && (this.functions.has(path) || isBuiltin(path))) {
      command.builtin = true;
      if (this.functions.has(path)) return { outer: command, inner: command };
      // After a cd the working directory may be on PATH: files it writes there can shadow names.
      if ((path === 'cd' || path === 'pushd') && texts.length > 1) this.cwdMaybeSystem = true;
      if (path === 'popd') this.cwdMaybeSystem = true;
      if (texts.slice(1).some((t) => t !== undefined && this.integers.has(t.split('=')[0]!))) {
        this.construct('arithmetic', `${path} names an integer variable, whose values bash evaluates`);
      }
      const reading = builtinReading(path, texts.slice(1));
      for (const construct of reading.constructs) this.construct(construct.kind, construct.detail);
      if (reading.runsFrom !== undefined) {
        const inner = this.run(words.slice(1 + reading.runsFrom), ctx);
        return { outer: command, inner: inner.inner ?? command };
      }
      return { outer: command, inner: command };
    }
    this.executed.push({ name: program, how: path.includes('/') ? 'path' : 'bare' });
    if (SPECIAL_FILES.test(path)) {
      this.construct('dynamic-program', `${path} is whatever program that file points at`);
    }
    if (this.options.pty && pagesWithTerminal(program)) {
      this.construct('program-runner', `${program} with a terminal can start a shell from a keystroke`);
    }
    const writes = writtenBy(program, texts.slice(1));
    for (const write of writes) this.wrote(write);
    // Given file names the line does not show (xargs' input, find's {}), a writer writes unknown names.
    if (fed && writes.length > 0) this.wrote({ into: undefined });
    const reader = runnerReader(program, this.extraRunners);
    if (!reader) return { outer: command, inner: command };
    let inner: SimpleCommand = command;
    for (const reading of reader(texts.slice(1), program)) {
      switch (reading.type) {
        case 'runs': {
          const target = words.slice(1 + reading.from, reading.to === undefined ? undefined : 1 + reading.to);
          if (target.length === 0) break;
          const name = target[0]!.text;
          if (reading.replace !== undefined && name?.includes(reading.replace)) {
            this.construct('dynamic-program', `${program} names the program it runs with ${reading.replace}`);
          } else if (reading.feedsArguments && name !== undefined && this.runsCode(basename(name))) {
            this.construct('program-runner', `${program} runs ${basename(name)} with arguments from its input`);
          }
          inner = this.run(target, ctx, reading.feedsArguments === true).inner ?? inner;
          break;
        }
        case 'script':
          this.script(reading.source, { src: Buffer.from(reading.source), depth: ctx.depth + 1, stdin: ctx.stdin });
          break;
        case 'script-file':
          this.scriptFile(program, reading.path);
          break;
        case 'stdin':
          if (ctx.stdin.kind === 'file' && ctx.stdin.path !== undefined) this.scriptFile(program, ctx.stdin.path);
          else this.construct('shell-input', `${program} reads code from ${describeStdin(ctx.stdin)}`);
          break;
        case 'writes':
          for (const write of reading.writes) this.wrote(write);
          break;
        case 'dynamic':
          this.construct(reading.kind, reading.detail);
          break;
      }
    }
    return { outer: command, inner };
  }

  /**
   * A script the line names for a shell or interpreter: the code in it is not on the line, so it
   * runs only when a rule lists it (`scripts`), by absolute path.
   */
  private scriptFile(program: string, path: string): void {
    if (SPECIAL_FILES.test(path)) {
      this.construct('shell-input', `${program} reads code from ${path}`);
      return;
    }
    this.executed.push({ name: basename(path), how: 'script' });
    const absolute = path.startsWith('/') ? normalizeDir(path) : undefined;
    if (absolute === undefined || !(this.options.scripts?.(absolute) ?? false)) {
      this.construct(
        'script-file',
        `${program} runs code from the file ${basename(path)}, which no rule lists in scripts (by absolute path)`,
      );
    }
  }

  /** Whether a program given arguments it does not choose could run anything. */
  private runsCode(program: string): boolean {
    return runnerReader(program, this.extraRunners) !== undefined || isBuiltin(program) || this.functions.has(program);
  }

  private assign(assign: Assign, ctx: Context): void {
    const name = assign.Name?.Value;
    if (assign.Index) this.arith(assign.Index, ctx);
    if (assign.Value) this.word(assign.Value, ctx);
    for (const element of assign.Array?.Elems ?? []) {
      if (element.Index) this.arith(element.Index, ctx);
      if (element.Value) this.word(element.Value, ctx);
    }
    if (name === undefined) return;
    const value = assign.Value ? staticWord(assign.Value) : undefined;
    this.assigned(name, !assign.Index && !assign.Array && value !== undefined && /^-?\d+$/.test(value.text));
  }

  /** A variable the line sets: a construct for PATH and its kin; remembered when it is a number. */
  private assigned(name: string, numeric: boolean): void {
    if (isDangerousVariable(name)) {
      this.construct('environment', `it sets ${name}, which changes which programs run or what they load`);
    }
    if (this.integers.has(name) && !numeric) {
      this.construct('arithmetic', `${name} has the integer attribute: bash evaluates what is assigned to it`);
    }
    if (numeric) this.numeric.add(name);
    else this.numeric.delete(name);
  }

  private declaration(decl: DeclClause, ctx: Context): void {
    const flags = new Set<string>();
    for (const arg of decl.Args ?? []) {
      if (arg.Naked && !arg.Name && arg.Value) {
        const flag = staticWord(arg.Value);
        if (!flag)
          this.construct('arithmetic', `${decl.Variant?.Value ?? 'declare'} has options the policy cannot read`);
        else for (const letter of flag.text.replace(/^[-+]/, '')) flags.add(letter);
      }
    }
    if (flags.has('n')) {
      this.construct('environment', `${decl.Variant?.Value ?? 'declare'} -n makes a name refer to another variable`);
    }
    const evaluates = ['i', 'a', 'A'].some((f) => flags.has(f));
    for (const arg of decl.Args ?? []) {
      if (!arg.Name) continue;
      if (flags.has('i')) this.integers.add(arg.Name.Value);
      if (evaluates && (arg.Value || arg.Array)) {
        const value = arg.Value ? staticWord(arg.Value) : undefined;
        if (arg.Array || !value || !/^[\w./:@%+-]*$/.test(value.text)) {
          this.construct(
            'arithmetic',
            `${decl.Variant?.Value ?? 'declare'} -${[...flags].join('')} evaluates its values`,
          );
        }
      }
      this.assign(arg, ctx);
    }
  }

  /** Words: the code they run (substitutions) and expansions where bash evaluates code. */
  private word(word: Word | null, ctx: Context): void {
    for (const part of word?.Parts ?? []) {
      switch (nodeType(part)) {
        case 'DblQuoted':
          this.word({ Parts: (part as DblQuoted).Parts }, ctx);
          break;
        case 'ParamExp':
          this.param(part as ParamExp, ctx);
          break;
        case 'CmdSubst':
          this.stmts((part as CmdSubst).Stmts, ctx);
          break;
        case 'ProcSubst':
          this.stmts((part as ProcSubst).Stmts, { ...ctx, stdin: { kind: 'pipe' } });
          break;
        case 'ArithmExp':
          this.arith((part as { X: ArithmExpr | null }).X, ctx);
          break;
        case 'Lit':
        case 'SglQuoted':
        case 'ExtGlob':
          break;
        default:
          this.construct('unparseable', `it uses ${nodeType(part)}, which the policy does not read`);
      }
    }
  }

  private param(param: ParamExp, ctx: Context): void {
    if (param.Excl && !param.Names) {
      this.construct('arithmetic', `\${!${param.Param?.Value ?? ''}} expands a name held in a variable`);
    }
    if (param.Index) this.arith(param.Index, ctx);
    if (param.Slice) {
      this.arith(param.Slice.Offset, ctx);
      this.arith(param.Slice.Length, ctx);
    }
    if (param.Exp) {
      const op = param.Exp.Word ? staticWord(param.Exp.Word)?.text : undefined;
      if (param.Exp.Op === PARAM_AT_OP && (op === undefined || op.includes('P'))) {
        this.construct('arithmetic', '${var@P} expands a prompt string, which runs substitutions in it');
      }
      this.word(param.Exp.Word, ctx);
    }
    if (param.Repl) {
      this.word(param.Repl.Orig, ctx);
      this.word(param.Repl.With, ctx);
    }
  }

  /**
   * Arithmetic: bash evaluates a variable's value as an expression, and a subscript in it
   * (`a[$(cmd)]`) runs code. Only numbers and variables this line set to numbers are readable.
   */
  private arith(expr: ArithmExpr | null, ctx: Context): void {
    if (!expr) return;
    switch (nodeType(expr)) {
      case 'Word':
        this.arithWord(expr as Word, ctx);
        break;
      case 'BinaryArithm': {
        const bin = expr as BinaryArithm;
        const target = nodeType(bin.X) === 'Word' ? arithName(bin.X as Word) : undefined;
        this.arith(bin.Y, ctx);
        if (ARITH_ASSIGN_OPS.has(bin.Op) && target !== undefined) {
          if (bin.Op !== ARITH_ASSIGN) this.arith(bin.X, ctx);
          this.numeric.add(target);
        } else this.arith(bin.X, ctx);
        break;
      }
      case 'UnaryArithm':
      case 'ParenArithm':
        this.arith((expr as { X: ArithmExpr }).X, ctx);
        break;
      default:
        this.construct('arithmetic', 'it has arithmetic the policy does not read');
    }
  }

  private arithWord(word: Word, ctx: Context): void {
    for (const part of word.Parts ?? []) {
      const type = nodeType(part);
      if (type === 'Lit') {
        const text = (part as Lit).Value;
        if (/^(\d+|0[xX][0-9a-fA-F]+|\d+#[0-9a-zA-Z@_]+)$/.test(text)) continue;
        if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(text) && this.numeric.has(text)) continue;
        this.construct('arithmetic', `arithmetic evaluates ${text.slice(0, 40)}, whose value bash may run as code`);
      } else if (type === 'ParamExp') {
        const param = part as ParamExp;
        const name = param.Param?.Value ?? '';
        const simple = !param.Index && !param.Slice && !param.Exp && !param.Repl && !param.Excl;
        if (!(simple && (/^[#?$!]$/.test(name) || param.Length || this.numeric.has(name)))) {
          this.construct('arithmetic', `arithmetic evaluates $${name}, whose value bash may run as code`);
        }
        this.param(param, ctx);
      } else if (type === 'CmdSubst') {
        this.construct('arithmetic', 'arithmetic evaluates the output of a command substitution');
        this.stmts((part as CmdSubst).Stmts, ctx);
      } else {
        this.construct('arithmetic', 'it has arithmetic the policy does not read');
        this.word({ Parts: [part] }, ctx);
      }
    }
  }

  private test(expr: TestExpr | null, ctx: Context): void {
    if (!expr) return;
    switch (nodeType(expr)) {
      case 'Word':
        this.word(expr as Word, ctx);
        break;
      case 'BinaryTest': {
        const bin = expr as BinaryTest;
        if (TEST_ARITH_OPS.has(bin.Op)) {
          for (const side of [bin.X, bin.Y]) {
            if (nodeType(side) === 'Word') this.arithWord(side as Word, ctx);
            else this.test(side, ctx);
          }
        } else {
          this.test(bin.X, ctx);
          this.test(bin.Y, ctx);
        }
        break;
      }
      case 'UnaryTest': {
        const unary = expr as UnaryTest;
        if (unary.Op === TEST_VAR_SET_OP && nodeType(unary.X) === 'Word') {
          const name = staticWord(unary.X as Word);
          if (!name || name.text.includes('[')) this.construct('arithmetic', '-v with a subscript evaluates it');
        }
        this.test(unary.X, ctx);
        break;
      }
      case 'ParenTest':
        this.test((expr as { X: TestExpr }).X, ctx);
        break;
      default:
        this.construct('unparseable', 'it has a test the policy does not read');
    }
  }
}

const ARITH_ASSIGN = 74;

function arithName(word: Word): string | undefined {
  const parts = word.Parts ?? [];
  if (parts.length !== 1 || nodeType(parts[0]) !== 'Lit') return undefined;
  const text = (parts[0] as Lit).Value;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(text) ? text : undefined;
}

function basename(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

function describeStdin(stdin: Stdin): string {
  switch (stdin.kind) {
    case 'session':
      return "the session's input, which no rule can read";
    case 'pipe':
      return 'a pipe';
    case 'heredoc':
      return 'a here-document or here-string';
    case 'file':
      return 'a file the policy cannot name';
    case 'closed':
      return 'nothing';
  }
}

/** The source text of a word (offsets are UTF-8 bytes). */
function sourceOf(word: Word, src: Buffer): string {
  const node = word as unknown as { Pos(): { Offset(): number }; End(): { Offset(): number } };
  return src.subarray(node.Pos().Offset(), node.End().Offset()).toString('utf8');
}

/** Every command of a line (see {@link SimpleCommand}), for detectors and tests. */
export function parseCommandLine(line: string): SimpleCommand[] {
  return analyzeCommandLine(line).commands;
}
