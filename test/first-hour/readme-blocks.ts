// Reads the fenced code blocks of a Markdown file (the README), for readme-blocks.test.ts.

/** One fenced code block. */
export interface FencedBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** The nearest heading above the block ('' before the first). */
  heading: string;
  /** The fence's info string, e.g. `sh runnable`. */
  info: string;
  /** The block's text, without the list-item indentation of its fence. */
  code: string;
}

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;

/** Every fenced code block, in document order (CommonMark fences, also inside list items). */
export function fencedBlocks(markdown: string): FencedBlock[] {
  const lines = markdown.split('\n');
  const blocks: FencedBlock[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) {
      const title = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(lines[i]!);
      if (title) heading = title[1]!;
      continue;
    }
    const indent = open[1]!;
    const fence = open[2]!;
    const info = open[3]!;
    // A backtick fence's info string cannot contain backticks: such a line is not a fence.
    if (fence.startsWith('`') && info.includes('`')) continue;
    const body: string[] = [];
    let end = -1;
    const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    for (let j = i + 1; j < lines.length; j++) {
      if (close.test(lines[j]!)) {
        end = j;
        break;
      }
      body.push(stripIndent(lines[j]!, indent.length));
    }
    if (end < 0) throw new Error(`line ${i + 1}: the fence opened here is never closed`);
    blocks.push({ line: i + 1, heading, info: info.trim(), code: body.join('\n') + '\n' });
    i = end;
  }
  return blocks;
}

function stripIndent(line: string, width: number): string {
  let n = 0;
  while (n < width && line[n] === ' ') n++;
  return line.slice(n);
}

/** The blocks fenced as ```` ```sh runnable ```` (or bash/shell), which must run as written, in order. */
export function runnableBlocks(markdown: string): FencedBlock[] {
  return fencedBlocks(markdown).filter((block) => {
    const [language, ...flags] = block.info.split(/\s+/);
    return ['sh', 'bash', 'shell'].includes(language ?? '') && flags.includes('runnable');
  });
}

/** A literal text of the README and what the test run uses in its place. */
export interface Rewrite {
  from: string;
  to: string;
}

/** Applies every rewrite to the text (each literal, every occurrence); returns the text and how often each applied. */
export function applyRewrites(text: string, rewrites: readonly Rewrite[]): { text: string; counts: number[] } {
  const counts = rewrites.map(() => 0);
  rewrites.forEach((rewrite, index) => {
    const parts = text.split(rewrite.from);
    counts[index] = parts.length - 1;
    text = parts.join(rewrite.to);
  });
  return { text, counts };
}
