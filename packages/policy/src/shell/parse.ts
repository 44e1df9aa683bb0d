/**
 * A tolerant reading of a shell command line, enough for policy: the simple
 * commands it runs (their words, quotes removed) and how they are piped. It is not
 * a shell: it does not expand variables or globs. It errs towards finding more
 * commands, not fewer: the contents of $(...), `...`, <(...) and of `sh -c '...'`
 * are read as command lines too, and wrappers (sudo, env, nohup, xargs...) are looked
 * through, so `sudo -u root /sbin/shutdown now` names `shutdown`.
 */
export interface SimpleCommand {
  /** Words as the shell would pass them (quotes removed, no expansion). */
  words: string[];
  /** The program name: basename of the first word after assignments and wrappers. */
  program: string;
  /** Arguments after the program. */
  args: string[];
  /** The next command of the same pipeline (`a | b`), if any. */
  pipesTo?: SimpleCommand;
}

const WRAPPERS = new Set([
  'sudo',
  'doas',
  'env',
  'nohup',
  'nice',
  'ionice',
  'time',
  'timeout',
  'exec',
  'command',
  'builtin',
  'xargs',
  'stdbuf',
  'setsid',
  'chroot',
  'su',
  'watch',
  'strace',
  'busybox',
]);
/** Interpreters whose `-c` argument is itself a command line. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'fish']);
const MAX_DEPTH = 8;

type Token = { word: string } | { op: string };

/** Splits into words and operators; nested $(...)/`...` bodies are returned separately. */
function tokenize(line: string, nested: string[]): Token[] {
  const tokens: Token[] = [];
  let word = '';
  let inWord = false;
  const flush = () => {
    if (inWord) tokens.push({ word });
    word = '';
    inWord = false;
  };
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) {
      if (line[i + 1] !== '\n') {
        word += line[i + 1];
        inWord = true;
      }
      i += 2;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      const stop = end < 0 ? line.length : end;
      word += line.slice(i + 1, stop);
      inWord = true;
      i = stop + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) {
          word += line[i + 1];
          i += 2;
        } else if (line[i] === '$' && line[i + 1] === '(') {
          const end = matchParen(line, i + 1);
          nested.push(line.slice(i + 2, end));
          word += line.slice(i, end + 1);
          i = end + 1;
        } else if (line[i] === '`') {
          const end = line.indexOf('`', i + 1);
          const stop = end < 0 ? line.length : end;
          nested.push(line.slice(i + 1, stop));
          i = stop + 1;
        } else word += line[i++];
      }
      i++;
    } else if ((c === '$' || c === '<' || c === '>') && line[i + 1] === '(') {
      const end = matchParen(line, i + 1);
      nested.push(line.slice(i + 2, end));
      word += line.slice(i, end + 1);
      inWord = true;
      i = end + 1;
    } else if (c === '`') {
      const end = line.indexOf('`', i + 1);
      const stop = end < 0 ? line.length : end;
      nested.push(line.slice(i + 1, stop));
      inWord = true;
      i = stop + 1;
    } else if (c === '#' && !inWord) {
      const end = line.indexOf('\n', i);
      i = end < 0 ? line.length : end;
    } else if (/\s/.test(c)) {
      flush();
      if (c === '\n') tokens.push({ op: ';' });
      i++;
    } else if (';&|()'.includes(c)) {
      flush();
      const two = line.slice(i, i + 2);
      if (two === '&&' || two === '||' || two === ';;' || two === '|&') {
        tokens.push({ op: two === '|&' ? '|' : two });
        i += 2;
      } else {
        tokens.push({ op: c });
        i++;
      }
    } else if (c === '<' || c === '>') {
      // Redirections: the operator and its target are not words of the command.
      flush();
      let j = i + 1;
      while (j < line.length && '<>&'.includes(line[j]!)) j++;
      tokens.push({ op: 'redirect' });
      i = j;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  flush();
  return tokens;
}

/** Index of the `)` closing the `(` at `open`, or the end of the line. */
function matchParen(line: string, open: number): number {
  let depth = 0;
  for (let i = open; i < line.length; i++) {
    const c = line[i];
    if (c === '\\') i++;
    else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return line.length;
      i = end;
    } else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return line.length;
}

const basename = (word: string) => word.slice(word.lastIndexOf('/') + 1);
const isAssignment = (word: string) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(word);

/** The program and its arguments, looking through assignments and wrappers (and their options). */
function resolveProgram(words: string[]): { program: string; args: string[] } {
  let i = 0;
  while (i < words.length) {
    const word = words[i]!;
    if (isAssignment(word)) {
      i++;
      continue;
    }
    const name = basename(word);
    if (!WRAPPERS.has(name) || i === words.length - 1) return { program: name, args: words.slice(i + 1) };
    i++;
    // Skip the wrapper's options (and a value after the few that take one) and a
    // numeric argument (timeout 10 cmd, nice -n 5 cmd).
    while (i < words.length - 1) {
      const w = words[i]!;
      if (/^-[ugCcnpDhrt]$/.test(w) && name !== 'su') i += 2;
      else if (w.startsWith('-') || isAssignment(w) || /^\d+[smhd]?$/.test(w)) i++;
      else break;
    }
  }
  return { program: '', args: [] };
}

/** Every simple command of a command line, nested ones included (outermost first). */
export function parseCommandLine(line: string, depth = 0): SimpleCommand[] {
  const nested: string[] = [];
  const tokens = tokenize(line, nested);
  const out: SimpleCommand[] = [];
  let words: string[] = [];
  let previous: SimpleCommand | undefined;
  let skipRedirectTarget = false;
  const end = (op: string | undefined) => {
    if (words.length) {
      const { program, args } = resolveProgram(words);
      const command: SimpleCommand = { words, program, args };
      if (previous) previous.pipesTo = command;
      out.push(command);
      previous = op === '|' ? command : undefined;
      if (depth < MAX_DEPTH && SHELLS.has(program)) {
        const script = args[args.indexOf('-c') + 1];
        if (args.includes('-c') && script) out.push(...parseCommandLine(script, depth + 1));
      }
    } else if (op !== '|') previous = undefined;
    words = [];
  };
  for (const token of tokens) {
    if ('word' in token) {
      if (skipRedirectTarget) skipRedirectTarget = false;
      else words.push(token.word);
    } else if (token.op === 'redirect') {
      skipRedirectTarget = true;
    } else {
      end(token.op);
    }
  }
  end(undefined);
  if (depth < MAX_DEPTH) for (const body of nested) out.push(...parseCommandLine(body, depth + 1));
  return out;
}
