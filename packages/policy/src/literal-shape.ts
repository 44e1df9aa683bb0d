/**
 * A decision-cache key that ignores the values of numeric literals, so simple-protocol
 * traffic with inlined numbers (`... WHERE aid = 84342`) reuses one decision instead
 * of parsing every statement.
 *
 * Only numbers are folded: string literals can carry SQL that policy reads (function
 * and DO bodies), so they always stay in the key. A number's value matters to policy
 * only as a position (`ORDER BY 1`, `GROUP BY 2`, `DISTINCT ON (1)`), so any text that
 * mentions those keywords keeps its exact key, and so does text this scanner is not
 * sure about (an unterminated quote or comment). Callers also keep the exact text when
 * a policy has regex rules, which may match digits.
 */
export function numericLiteralShape(sql: string): string {
  if (POSITIONAL.test(sql)) return sql;
  let out = '';
  let last = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x27 /* ' */) {
      // E'...' allows backslash escapes; plain '...' only doubles quotes.
      const escapes = i > 0 && (sql.charCodeAt(i - 1) | 0x20) === 0x65 /* e */ && !isIdent(sql.charCodeAt(i - 2));
      const end = skipQuoted(sql, i, 0x27, escapes);
      if (end < 0) return sql;
      i = end;
    } else if (c === 0x22 /* " */) {
      const end = skipQuoted(sql, i, 0x22, false);
      if (end < 0) return sql;
      i = end;
    } else if (c === 0x24 /* $ */ && !isIdent(sql.charCodeAt(i - 1))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        if (close < 0) return sql;
        i = close + tag[0].length;
      } else {
        i += 1; // a parameter ($1): the digits stay part of it
        while (i < n && isDigit(sql.charCodeAt(i))) i += 1;
      }
    } else if (c === 0x2d /* - */ && sql.charCodeAt(i + 1) === 0x2d) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end;
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = skipBlockComment(sql, i);
      if (end < 0) return sql;
      i = end;
    } else if (isDigit(c) && !isIdent(sql.charCodeAt(i - 1))) {
      let j = i;
      while (j < n && (isDigit(sql.charCodeAt(j)) || sql.charCodeAt(j) === 0x2e || sql.charCodeAt(j) === 0x5f)) j += 1;
      if (j < n && (sql.charCodeAt(j) | 0x20) === 0x65 /* e */) {
        let k = j + 1;
        if (sql.charCodeAt(k) === 0x2b || sql.charCodeAt(k) === 0x2d) k += 1;
        if (isDigit(sql.charCodeAt(k))) {
          j = k;
          while (j < n && isDigit(sql.charCodeAt(j))) j += 1;
        }
      }
      // 0x1F, 0o17, 0b1 and a number glued to letters are left alone.
      if (isIdent(sql.charCodeAt(j))) {
        i = j;
        continue;
      }
      out += sql.slice(last, i) + '0';
      last = j;
      i = j;
    } else if (isIdent(c)) {
      while (i < n && isIdent(sql.charCodeAt(i))) i += 1;
    } else {
      i += 1;
    }
  }
  return last === 0 ? sql : out + sql.slice(last);
}

const POSITIONAL = /\b(order|group|distinct)\b/i;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Letters, digits, `_`, `$` and any non-ASCII character continue an identifier. */
function isIdent(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x5f ||
    c === 0x24 ||
    c > 0x7f
  );
}

function skipQuoted(sql: string, start: number, quote: number, backslashEscapes: boolean): number {
  for (let i = start + 1; i < sql.length; i += 1) {
    const c = sql.charCodeAt(i);
    if (backslashEscapes && c === 0x5c) {
      i += 1;
    } else if (c === quote) {
      if (sql.charCodeAt(i + 1) === quote) i += 1;
      else return i + 1;
    }
  }
  return -1;
}

function skipBlockComment(sql: string, start: number): number {
  let depth = 0;
  for (let i = start; i < sql.length - 1; i += 1) {
    if (sql.charCodeAt(i) === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      depth += 1;
      i += 1;
    } else if (sql.charCodeAt(i) === 0x2a && sql.charCodeAt(i + 1) === 0x2f) {
      depth -= 1;
      i += 1;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
