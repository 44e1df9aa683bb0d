/**
 * Types for `mvdan-sh`, the JavaScript build (GopherJS) of mvdan.cc/sh/v3/syntax, the shell
 * parser behind shfmt. Its nodes are the Go structs (https://pkg.go.dev/mvdan.cc/sh/v3/syntax):
 * fields keep their Go names, enums are numbers, `syntax.NodeType(node)` names a node's type.
 * Only what Warden reads is declared; see syntax.ts for the typed view.
 */
declare module 'mvdan-sh' {
  interface GoError {
    Error(): string;
  }
  interface Parser {
    /** Throws a Go error (with `.Error()`) on a syntax error. */
    Parse(src: string, name: string): unknown;
  }
  interface Syntax {
    NewParser(...options: unknown[]): Parser;
    NodeType(node: unknown): string;
    Variant(lang: number): unknown;
    LangBash: number;
  }
  const sh: { syntax: Syntax };
  export type { GoError };
  export default sh;
}
