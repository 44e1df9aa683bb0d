import type { Args } from './reading.js';

export interface OptionSpec {
  /** Short option letters that take a value (attached or the next word). */
  value?: string;
  /** Short option letters that take nothing. */
  flags?: string;
  /** Long options (without `--`) that take a value (`--opt=v` or `--opt v`). */
  longValue?: string[];
  /** Long options that take nothing. */
  longFlags?: string[];
  /** Numeric options such as `nice -10`. */
  numeric?: boolean;
  /** `+o` turns an option off (shells): read like `-o`. */
  plus?: boolean;
}

export type OptionScan =
  { ok: true; next: number; seen: Map<string, string | true> } | { ok: false; option: string | undefined };

/**
 * Reads options up to the first operand (or `--`). Fails closed: an option the spec does not
 * know may take a value or run something, so the caller refuses the line.
 */
export function scanOptions(args: Args, spec: OptionSpec, start = 0): OptionScan {
  const seen = new Map<string, string | true>();
  let i = start;
  while (i < args.length) {
    let word = args[i];
    if (word === undefined) return { ok: false, option: undefined };
    if (word === '--') return { ok: true, next: i + 1, seen };
    if (spec.plus && /^\+[A-Za-z]+$/.test(word)) word = '-' + word.slice(1);
    if (!word.startsWith('-') || word === '-') break;
    if (word.startsWith('--')) {
      const [name, inline] = splitLong(word.slice(2));
      if (spec.longValue?.includes(name)) {
        if (inline !== undefined) seen.set(name, inline);
        else {
          const value = args[i + 1];
          if (value === undefined) return { ok: false, option: word };
          seen.set(name, value);
          i++;
        }
      } else if (spec.longFlags?.includes(name) && inline === undefined) seen.set(name, true);
      else return { ok: false, option: word };
      i++;
      continue;
    }
    if (spec.numeric && /^-\d+$/.test(word)) {
      i++;
      continue;
    }
    let consumedNext = false;
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!;
      if (spec.value?.includes(letter)) {
        const rest = word.slice(j + 1);
        if (rest) seen.set(letter, rest);
        else {
          const value = args[i + 1];
          if (value === undefined) return { ok: false, option: `-${letter}` };
          seen.set(letter, value);
          consumedNext = true;
        }
        break;
      }
      if (!spec.flags?.includes(letter)) return { ok: false, option: `-${letter}` };
      seen.set(letter, true);
    }
    i += consumedNext ? 2 : 1;
  }
  return { ok: true, next: i, seen };
}

export function splitLong(option: string): [string, string | undefined] {
  const eq = option.indexOf('=');
  return eq < 0 ? [option, undefined] : [option.slice(0, eq), option.slice(eq + 1)];
}
