/**
 * Value detectors find sensitive values inside text. They run on a *latin1 view* of the bytes
 * (one char per byte), so match offsets are byte offsets and a masked value can be spliced back
 * into the original bytes without re-encoding. Every pattern is ASCII, so this works for UTF-8
 * and every other ASCII-compatible client encoding; bytes >= 0x80 (parts of multi-byte
 * characters) never match an ASCII class, and detectors that should swallow them (email local
 * parts and domains) list `\x80-\xff` explicitly. Patterns must not use `\s` (it matches the
 * latin1 no-break space 0xA0, a UTF-8 continuation byte).
 */

export const DETECTOR_IDS = [
  'pem_private_key',
  'jwt',
  'bearer_token',
  'api_key',
  'aws_access_key_id',
  'email',
  'iban',
  'credit_card',
  'us_ssn',
  'phone',
  'ipv6',
  'ipv4',
] as const;

/** Stable detector ids, used in configuration and in masked-cell counters. */
export type DetectorId = (typeof DETECTOR_IDS)[number];

/** Byte-class statistics of a cell, computed once and used to skip detectors cheaply. */
export interface TextStats {
  length: number;
  digits: number;
  upper: number;
  lower: number;
  /** '@' */
  at: number;
  colons: number;
  dots: number;
  dashes: number;
  underscores: number;
  /** Spaces and tabs. */
  spaces: number;
}

export interface Detector {
  readonly id: DetectorId;
  /** Report every match as [start, end) offsets into `text` (a latin1 view of the bytes). */
  scan(text: string, emit: (start: number, end: number) => void): void;
}

const shared: TextStats = {
  length: 0,
  digits: 0,
  upper: 0,
  lower: 0,
  at: 0,
  colons: 0,
  dots: 0,
  dashes: 0,
  underscores: 0,
  spaces: 0,
};

/**
 * Byte-class statistics of `bytes[start, end)`. Returns one shared object, overwritten by the
 * next call (the hot path allocates nothing): copy it to keep it.
 */
export function textStats(bytes: Uint8Array, start = 0, end = bytes.length): TextStats {
  let digits = 0;
  let upper = 0;
  let lower = 0;
  let at = 0;
  let colons = 0;
  let dots = 0;
  let dashes = 0;
  let underscores = 0;
  let spaces = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 0x61) {
      if (c <= 0x7a) lower++;
    } else if (c >= 0x41) {
      if (c <= 0x5a) upper++;
      else if (c === 0x5f) underscores++;
    } else if (c >= 0x30) {
      if (c <= 0x39) digits++;
      else if (c === 0x3a) colons++;
      else if (c === 0x40) at++;
    } else if (c === 0x20 || c === 0x09) spaces++;
    else if (c === 0x2e) dots++;
    else if (c === 0x2d) dashes++;
  }
  const s = shared;
  s.length = end - start;
  s.digits = digits;
  s.upper = upper;
  s.lower = lower;
  s.at = at;
  s.colons = colons;
  s.dots = dots;
  s.dashes = dashes;
  s.underscores = underscores;
  s.spaces = spaces;
  return s;
}

/** Statistics of a string (a latin1 view or plain ASCII text). */
export function stringStats(text: string): TextStats {
  return textStats(Buffer.from(text, 'latin1'));
}

/**
 * Build a detector from a global regex, an optional validator of each candidate (true, false, or
 * the [start, end) to report instead) and optional needles: substrings of which at least one
 * must occur for the regex to be worth running (indexOf is much faster than a regex that cannot
 * skip ahead).
 */
export function regexDetector(
  id: DetectorId,
  pattern: RegExp,
  validate?: (match: RegExpExecArray) => boolean | [number, number] | null,
  needles?: readonly string[],
): Detector {
  if (!pattern.global) throw new Error(`detector ${id}: pattern must be global`);
  return {
    id,
    scan(text, emit) {
      if (needles !== undefined && !needles.some((n) => text.includes(n))) return;
      pattern.lastIndex = 0;
      for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
        if (m[0].length === 0) {
          pattern.lastIndex++;
          continue;
        }
        const v = validate ? validate(m) : true;
        if (v === true) emit(m.index, m.index + m[0].length);
        else if (Array.isArray(v)) emit(v[0], v[1]);
      }
    },
  };
}
