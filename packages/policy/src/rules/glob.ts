/** A case-insensitive glob (`*` any run, `?` one character) compiled to a predicate. */
export function globMatcher(pattern: string): (value: string) => boolean {
  if (!/[*?]/.test(pattern)) {
    const lower = pattern.toLowerCase();
    return (value) => value.toLowerCase() === lower;
  }
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.+()[\]{}|/]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`, 'is');
  return (value) => re.test(value);
}

/** A matcher for a list of globs: true when any matches. */
export function anyGlob(patterns: readonly string[]): (value: string) => boolean {
  const matchers = patterns.map(globMatcher);
  return (value) => matchers.some((m) => m(value));
}

/** Splits `a.b.c` on dots (names containing dots are not supported in rules). */
export function splitQualified(pattern: string): string[] {
  return pattern.split('.');
}

export function hasWildcard(pattern: string): boolean {
  return /[*?]/.test(pattern);
}
