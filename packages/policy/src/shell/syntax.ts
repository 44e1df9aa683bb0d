import { createRequire } from 'node:module';
import type Sh from 'mvdan-sh';

/**
 * A typed view of the syntax tree of mvdan.cc/sh (the parser behind shfmt, built for JavaScript
 * as `mvdan-sh`), read as bash. Only the fields the analysis reads are declared; Go nil pointers
 * and interfaces arrive as null, slices as arrays (or null when nil).
 */

export interface Lit {
  Value: string;
}
export interface Word {
  Parts: WordPart[] | null;
}
export interface SglQuoted {
  Value: string;
  /** `$'...'`: ANSI-C escapes are decoded by bash. */
  Dollar: boolean;
}
export interface DblQuoted {
  Parts: WordPart[] | null;
  /** `$"..."`: translated through the locale's message catalog. */
  Dollar: boolean;
}
export interface ParamExp {
  Param: Lit | null;
  Excl: boolean;
  Length: boolean;
  Index: ArithmExpr | null;
  Slice: { Offset: ArithmExpr | null; Length: ArithmExpr | null } | null;
  Repl: { Orig: Word | null; With: Word | null } | null;
  Names: number;
  Exp: { Op: number; Word: Word | null } | null;
}
export interface CmdSubst {
  Stmts: Stmt[] | null;
}
export interface ProcSubst {
  Op: number;
  Stmts: Stmt[] | null;
}
export interface ArithmExp {
  X: ArithmExpr | null;
}
export type WordPart = Lit | SglQuoted | DblQuoted | ParamExp | CmdSubst | ArithmExp | ProcSubst;

/** An arithmetic expression: a Word (number or variable name), or an operator node. */
export type ArithmExpr = Word | BinaryArithm | UnaryArithm | ParenArithm;
export interface BinaryArithm {
  Op: number;
  X: ArithmExpr;
  Y: ArithmExpr;
}
export interface UnaryArithm {
  Op: number;
  X: ArithmExpr;
}
export interface ParenArithm {
  X: ArithmExpr;
}

export interface Redirect {
  Op: number;
  N: Lit | null;
  Word: Word | null;
  Hdoc: Word | null;
}
export interface Stmt {
  Cmd: Command | null;
  Redirs: Redirect[] | null;
  Background: boolean;
  Coprocess: boolean;
}
export interface Assign {
  Name: Lit | null;
  Index: ArithmExpr | null;
  Value: Word | null;
  Array: { Elems: { Index: ArithmExpr | null; Value: Word | null }[] | null } | null;
  Naked: boolean;
}
export interface CallExpr {
  Assigns: Assign[] | null;
  Args: Word[] | null;
}
export interface BinaryCmd {
  Op: number;
  X: Stmt;
  Y: Stmt;
}
export interface StmtList {
  Stmts: Stmt[] | null;
}
export interface IfClause {
  Cond: Stmt[] | null;
  Then: Stmt[] | null;
  Else: IfClause | null;
}
export interface WhileClause {
  Cond: Stmt[] | null;
  Do: Stmt[] | null;
}
export interface ForClause {
  Loop: WordIter | CStyleLoop;
  Do: Stmt[] | null;
}
export interface WordIter {
  Name: Lit | null;
  Items: Word[] | null;
}
export interface CStyleLoop {
  Init: ArithmExpr | null;
  Cond: ArithmExpr | null;
  Post: ArithmExpr | null;
}
export interface CaseClause {
  Word: Word;
  Items: { Patterns: Word[] | null; Stmts: Stmt[] | null }[] | null;
}
export interface FuncDecl {
  Name: Lit | null;
  Body: Stmt | null;
}
export interface ArithmCmd {
  X: ArithmExpr | null;
}
export interface LetClause {
  Exprs: ArithmExpr[] | null;
}
export interface TestClause {
  X: TestExpr | null;
}
export type TestExpr = Word | BinaryTest | UnaryTest | ParenTest;
export interface BinaryTest {
  Op: number;
  X: TestExpr;
  Y: TestExpr;
}
export interface UnaryTest {
  Op: number;
  X: TestExpr;
}
export interface ParenTest {
  X: TestExpr;
}
export interface DeclClause {
  Variant: Lit | null;
  Args: Assign[] | null;
}
export interface WrappedStmt {
  Stmt: Stmt | null;
}
export type Command =
  | CallExpr
  | BinaryCmd
  | StmtList
  | IfClause
  | WhileClause
  | ForClause
  | CaseClause
  | FuncDecl
  | ArithmCmd
  | LetClause
  | TestClause
  | DeclClause
  | WrappedStmt;

/** Redirection operators (syntax.RedirOperator). */
export const REDIRECT = {
  out: 54, // >
  append: 55, // >>
  in: 56, // <
  readWrite: 57, // <>
  dupIn: 58, // <&
  dupOut: 59, // >&
  clobber: 60, // >|
  hdoc: 61, // <<
  dashHdoc: 62, // <<-
  hereString: 63, // <<<
  all: 64, // &>
  appendAll: 65, // &>>
} as const;

/** Pipeline operators (syntax.BinCmdOperator): `|` and `|&`. */
export const PIPE_OPS: ReadonlySet<number> = new Set([12, 13]);
/** `${x@op}` (syntax.ParExpOperator). */
export const PARAM_AT_OP = 84;
/** Arithmetic assignment operators (=, +=, ... ^=). */
export const ARITH_ASSIGN_OPS: ReadonlySet<number> = new Set([74, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53]);
/** `[[ ]]` operators that evaluate their operands arithmetically (-eq -ne -le -ge -lt -gt). */
export const TEST_ARITH_OPS: ReadonlySet<number> = new Set([116, 117, 118, 119, 120, 121]);
/** `[[ -v name ]]`: a subscript in the name is evaluated. */
export const TEST_VAR_SET_OP = 110;

// Loaded on first use: the parser is 1.5 MB of JavaScript (~80 ms), and only the gateway's SSH
// listener needs it (the API imports this package for rule validation).
let loaded: { syntax: (typeof Sh)['syntax']; parser: ReturnType<(typeof Sh)['syntax']['NewParser']> } | undefined;
function shell() {
  if (!loaded) {
    const { syntax } = createRequire(import.meta.url)('mvdan-sh') as typeof Sh;
    loaded = { syntax, parser: syntax.NewParser(syntax.Variant(syntax.LangBash)) };
  }
  return loaded;
}

/** The node's Go type name (`CallExpr`, `Lit`, ...). */
export function nodeType(node: unknown): string {
  return shell().syntax.NodeType(node);
}

export type ParseResult = { ok: true; stmts: Stmt[] } | { ok: false; message: string };

/** Parses a command line as bash (the grammar of the shells sshd hands exec commands to). */
export function parseBash(source: string): ParseResult {
  try {
    const file = shell().parser.Parse(source, '') as StmtList;
    return { ok: true, stmts: file.Stmts ?? [] };
  } catch (error) {
    const message =
      typeof (error as { Error?: unknown }).Error === 'function'
        ? (error as { Error(): string }).Error()
        : String(error);
    return { ok: false, message };
  }
}

/** Removes backslash escapes from unquoted text, as the shell's quote removal does. */
function unescapeUnquoted(text: string): string {
  return text.replace(/\\(\n|.)/gs, (_m, c: string) => (c === '\n' ? '' : c));
}

/** Inside double quotes a backslash only escapes $ ` " \ and newline. */
function unescapeDoubleQuoted(text: string): string {
  return text.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === '\n' ? '' : c));
}

/** What makes an unquoted word a pattern or an expansion: globs, bracket and brace expressions, a leading tilde. */
const UNQUOTED_SPECIAL = /[*?]|\[.*\]|\{.*(,|\.\.).*\}|^~|^[+@!]\(/;

export interface StaticWord {
  /** The word after quote removal. */
  text: string;
  /** An unquoted glob, brace or tilde character: the shell may turn it into other words. */
  expands: boolean;
}

/**
 * The word's value when it needs no expansion: literal text and single or double quotes only.
 * Undefined for parameters, substitutions, arithmetic, `$'...'` and `$"..."`, whose value the
 * policy cannot know (or would have to decode exactly as the target's shell does).
 */
export function staticWord(word: Word): StaticWord | undefined {
  let text = '';
  let expands = false;
  for (const part of word.Parts ?? []) {
    const type = nodeType(part);
    if (type === 'Lit') {
      const value = (part as Lit).Value;
      if (UNQUOTED_SPECIAL.test(value)) expands = true;
      text += unescapeUnquoted(value);
    } else if (type === 'SglQuoted') {
      const quoted = part as SglQuoted;
      if (quoted.Dollar) return undefined;
      text += quoted.Value;
    } else if (type === 'DblQuoted') {
      const quoted = part as DblQuoted;
      if (quoted.Dollar) return undefined;
      for (const inner of quoted.Parts ?? []) {
        if (nodeType(inner) !== 'Lit') return undefined;
        text += unescapeDoubleQuoted((inner as Lit).Value);
      }
    } else return undefined;
  }
  return { text, expands };
}

/** What the source says for a word, for messages: its literal parts and `…` for the rest. */
export function describeWord(word: Word): string {
  return (word.Parts ?? [])
    .map((part) => {
      const type = nodeType(part);
      if (type === 'Lit') return (part as Lit).Value;
      if (type === 'SglQuoted') return `'${(part as SglQuoted).Value}'`;
      if (type === 'ParamExp') return `$${(part as ParamExp).Param?.Value ?? '…'}`;
      if (type === 'CmdSubst') return '$(…)';
      if (type === 'ProcSubst') return '<(…)';
      if (type === 'ArithmExp') return '$((…))';
      return '"…"';
    })
    .join('')
    .slice(0, 80);
}
