/** A light reading of a sed script: is there an `e` command or flag, what does `w` write. */
export function readSedScript(script: string): { runs: boolean; writes: string[]; unknown: boolean } {
  const writes: string[] = [];
  let i = 0;
  const n = script.length;
  const skipSpace = () => {
    while (i < n && /[\s;]/.test(script[i]!)) i++;
  };
  const skipDelimited = (delim: string) => {
    while (i < n && script[i] !== delim) {
      if (script[i] === '\\') i++;
      if (script[i] === '\n' && delim !== '\n') return false;
      i++;
    }
    if (i >= n) return false;
    i++;
    return true;
  };
  const restOfLine = () => {
    const end = script.indexOf('\n', i);
    const text = script.slice(i, end < 0 ? n : end).trim();
    i = end < 0 ? n : end + 1;
    return text;
  };
  while (i < n) {
    skipSpace();
    if (i >= n) break;
    // Address: numbers, $, /re/, \cREc, ranges, steps, negation.
    for (;;) {
      const c = script[i];
      if (c === undefined) break;
      if (/[0-9$,~+]/.test(c) || c === ' ') i++;
      else if (c === '/') {
        i++;
        if (!skipDelimited('/')) return { runs: false, writes, unknown: true };
        while (/[IM]/.test(script[i] ?? '')) i++;
      } else if (c === '\\') {
        const delim = script[i + 1];
        if (delim === undefined) return { runs: false, writes, unknown: true };
        i += 2;
        if (!skipDelimited(delim)) return { runs: false, writes, unknown: true };
      } else break;
    }
    while (script[i] === '!' || script[i] === ' ') i++;
    const command = script[i++];
    if (command === undefined) break;
    if (command === '{' || command === '}') continue;
    if (command === '#' || command === ':') {
      restOfLine();
      continue;
    }
    if (command === 'e') return { runs: true, writes, unknown: false };
    if ('aic'.includes(command)) {
      restOfLine();
      continue;
    }
    if ('rRwW'.includes(command)) {
      const file = restOfLine();
      if (command === 'w' || command === 'W') writes.push(file);
      continue;
    }
    if ('btT'.includes(command)) {
      while (i < n && !/[;\n}]/.test(script[i]!)) i++;
      continue;
    }
    if ('qQlL'.includes(command)) {
      while (i < n && /[0-9 ]/.test(script[i]!)) i++;
      continue;
    }
    if ('=dDgGhHnNpPxzF'.includes(command)) continue;
    if (command === 's' || command === 'y') {
      const delim = script[i++];
      if (delim === undefined || delim === '\n' || delim === '\\') return { runs: false, writes, unknown: true };
      if (!skipDelimited(delim) || !skipDelimited(delim)) return { runs: false, writes, unknown: true };
      if (command === 'y') continue;
      while (i < n && /[0-9gpiImMe]/.test(script[i]!)) {
        if (script[i] === 'e') return { runs: true, writes, unknown: false };
        i++;
      }
      if (script[i] === 'w') {
        i++;
        writes.push(restOfLine());
      }
      continue;
    }
    return { runs: false, writes, unknown: true };
  }
  return { runs: false, writes, unknown: false };
}
