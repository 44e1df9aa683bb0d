/** Helpers for libpg-query's JSON parse tree, where a node is `{ NodeType: { ...fields } }`. */

export type Body = Record<string, unknown>;

/**
 * `{ SelectStmt: {...} }` → `['SelectStmt', {...}]`. Fields whose declared type is a specific node
 * (e.g. `relation: RangeVar`) are emitted without the wrapper; those are not unwrapped here.
 */
export function unwrap(node: unknown): [string, Body] | undefined {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return undefined;
  let found: [string, Body] | undefined;
  for (const key in node) {
    if (found) return undefined; // more than one key: a bare struct
    const c = key.charCodeAt(0);
    if (c < 65 || c > 90) return undefined; // node type names start with an upper-case letter
    const value = (node as Body)[key];
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    found = [key, value as Body];
  }
  return found;
}

export function asBody(value: unknown): Body | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Body) : undefined;
}

export function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The `sval` of a `{ String: { sval } }` node. */
export function stringValue(node: unknown): string | undefined {
  const w = unwrap(node);
  if (!w || w[0] !== 'String') return undefined;
  const sval = w[1].sval;
  return typeof sval === 'string' ? sval : '';
}

/** The strings of a list of String nodes (name lists such as `funcname`, `fields`, `colnames`). */
export function stringList(value: unknown): string[] {
  const out: string[] = [];
  for (const item of asList(value)) {
    const s = stringValue(item);
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** The integer value of an `A_Const` (`ORDER BY 2`), if it is one. */
export function intConst(node: unknown): number | undefined {
  const w = unwrap(node);
  if (!w || w[0] !== 'A_Const') return undefined;
  const ival = asBody(w[1].ival);
  if (!ival) return undefined;
  return typeof ival.ival === 'number' ? ival.ival : 0;
}

/** The value of a `DefElem` option in an options list (`language`, `as`, `analyze`, ...). */
export function defElem(options: unknown, name: string): { found: boolean; arg: unknown } {
  for (const item of asList(options)) {
    const w = unwrap(item);
    if (w && w[0] === 'DefElem' && w[1].defname === name) return { found: true, arg: w[1].arg };
  }
  return { found: false, arg: undefined };
}

/** Dotted display of a qualified name. */
export function dotted(parts: Array<string | undefined>): string {
  return parts.filter((p): p is string => p !== undefined).join('.');
}
