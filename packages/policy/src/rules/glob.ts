/**
 * A glob (`*` any run, `?` one character) compiled to a predicate; case-insensitive unless asked
 * (file and program names on the target are case-sensitive: an allow-list must be too).
 */
export function globMatcher(pattern: string, caseSensitive = false): (value: string) => boolean {
  if (!/[*?]/.test(pattern)) {
    if (caseSensitive) return (value) => value === pattern;
    const lower = pattern.toLowerCase();
    return (value) => value.toLowerCase() === lower;
  }
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.+()[\]{}|/]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`, caseSensitive ? 's' : 'is');
  return (value) => re.test(value);
}

/** A matcher for a list of globs: true when any matches. */
export function anyGlob(patterns: readonly string[], caseSensitive = false): (value: string) => boolean {
  const matchers = patterns.map((p) => globMatcher(p, caseSensitive));
  return (value) => matchers.some((m) => m(value));
}

/** Splits `a.b.c` on dots (names containing dots are not supported in rules). */
export function splitQualified(pattern: string): string[] {
  return pattern.split('.');
}

export function hasWildcard(pattern: string): boolean {
  return /[*?]/.test(pattern);
}
