import { regexDetector, type Detector } from './types.js';

/** Luhn checksum over a string of ASCII digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** `YYYYMMDDhhmmss` or `YYYYMMDDhhmmssSSS`: compact timestamps that happen to be Luhn-valid. */
function looksLikeTimestamp(d: string): boolean {
  if (d.length !== 14 && d.length !== 17) return false;
  const year = +d.slice(0, 4);
  const month = +d.slice(4, 6);
  const day = +d.slice(6, 8);
  const hour = +d.slice(8, 10);
  const minute = +d.slice(10, 12);
  const second = +d.slice(12, 14);
  return (
    year >= 1900 &&
    year <= 2199 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= 31 &&
    hour < 24 &&
    minute < 60 &&
    second < 61
  );
}

function cardNumberValid(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19) return false;
  // Issuer ranges: 2 (Mastercard 2-series), 3 (Amex, Diners, JCB), 4 (Visa), 5 (Mastercard,
  // Maestro), 6 (Discover, UnionPay, Maestro). 0, 1, 7, 8, 9 are not payment-card ranges, which
  // also rules out Unix timestamps in milliseconds (13 digits starting with 1).
  const first = digits.charCodeAt(0);
  if (first < 0x32 || first > 0x36) return false;
  let same = true;
  for (let i = 1; i < digits.length && same; i++) same = digits.charCodeAt(i) === digits.charCodeAt(0);
  if (same) return false;
  if (looksLikeTimestamp(digits)) return false;
  return luhnValid(digits);
}

/** Runs of digit groups separated by single spaces or dashes, not glued to words or decimals. */
const DIGIT_RUN = /(?<![0-9A-Za-z_.])\d+(?:[ -]\d+)*(?![0-9A-Za-z_]|\.\d)/g;

/**
 * `credit_card`: 13–19 digits, bare or in groups separated by one kind of separator (space or
 * dash; first group of 4 digits, others of 3–6), issuer digit 2–6, Luhn-valid.
 * A card number inside a longer run of groups ("qty 2 4242 4242 4242 4242") is still found.
 */
export const creditCard: Detector = {
  id: 'credit_card',
  scan(text, emit) {
    DIGIT_RUN.lastIndex = 0;
    for (let m = DIGIT_RUN.exec(text); m !== null; m = DIGIT_RUN.exec(text)) {
      const run = m[0];
      if (run.length < 13) continue;
      // Digit groups of the run: [start, end) of each (separated by exactly one ' ' or '-').
      starts.length = 0;
      ends.length = 0;
      let digits = 0;
      for (let i = 0; i < run.length; i++) {
        if (isDigit(run.charCodeAt(i))) {
          if (i === 0 || !isDigit(run.charCodeAt(i - 1))) starts.push(i);
          digits++;
        } else ends.push(i);
      }
      ends.push(run.length);
      if (digits < 13) continue;
      const n = starts.length;
      for (let i = 0; i < n;) {
        const found = longestCardFrom(run, i);
        if (found < 0) {
          i++;
          continue;
        }
        emit(m.index + starts[i]!, m.index + ends[found]!);
        i = found + 1;
      }
    }
  },
};

// Group boundaries of the current run (scan is synchronous and never re-entered).
const starts: number[] = [];
const ends: number[] = [];

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** The digits of `s[start, end)`, separators dropped. */
function digitsOf(s: string, start: number, end: number): string {
  let d = '';
  for (let i = start; i < end; i++) if (isDigit(s.charCodeAt(i))) d += s[i];
  return d;
}

/** Index of the last group of the longest valid card starting at group i, or -1. */
function longestCardFrom(run: string, i: number): number {
  const firstLen = ends[i]! - starts[i]!;
  if (firstLen >= 13) return firstLen <= 19 && cardNumberValid(run.slice(starts[i], ends[i])) ? i : -1;
  if (firstLen !== 4) return -1;
  const sep = run.charCodeAt(ends[i]!);
  let total = 4;
  let best = -1;
  for (let j = i + 1; j < starts.length; j++) {
    if (run.charCodeAt(starts[j]! - 1) !== sep) break;
    const len = ends[j]! - starts[j]!;
    total += len;
    if (total > 19 || len > 6 || len < 3) break;
    if (total >= 13 && cardNumberValid(digitsOf(run, starts[i]!, ends[j]!))) best = j;
  }
  return best;
}

/**
 * `us_ssn`: `AAA-GG-SSSS` or `AAA GG SSSS` (one separator kind), excluding numbers the SSA never
 * issues: area 000, 666 or 900–999, group 00, serial 0000. Nine bare digits are not matched:
 * too many ordinary integers look like that (mask an SSN column with a column rule).
 */
export const usSsn: Detector = regexDetector(
  'us_ssn',
  /(?<![0-9A-Za-z_.-])(\d{3})([- ])(\d{2})\2(\d{4})(?![0-9A-Za-z_]|[.-]\d)/g,
  (m) => {
    const area = m[1]!;
    return area !== '000' && area !== '666' && area[0] !== '9' && m[3] !== '00' && m[4] !== '0000';
  },
);

/** IBAN length by country (SWIFT IBAN registry). */
const IBAN_LENGTH: Record<string, number> = Object.fromEntries(
  (
    'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BI27 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DJ27 DK18 DO28 ' +
    'EE20 EG29 ES24 FI18 FK18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 ' +
    'JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MN20 MR27 MT31 MU30 NI28 NL18 ' +
    'NO15 OM23 PK24 PL28 PS29 PT25 QA29 RO24 RS22 RU33 SA24 SC31 SD18 SE24 SI19 SK24 SM27 SO23 ST25 SV28 ' +
    'TL23 TN24 TR26 UA29 VA22 VG24 XK20 YE30'
  )
    .split(' ')
    .map((e) => [e.slice(0, 2), +e.slice(2)]),
);

/** ISO 13616 check: move the first four characters to the end, letters as 10–35, mod 97 = 1. */
export function ibanChecksumValid(iban: string): boolean {
  const s = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

/**
 * `iban`: country code, two check digits, then the BBAN, compact or in groups of four separated
 * by single spaces (upper case, as printed and transmitted). Length must match the country and
 * the mod-97 checksum must hold; text glued after the IBAN ("… 00 BIC …") is not part of it.
 */
export const iban: Detector = regexDetector(
  'iban',
  /(?<![0-9A-Za-z_])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![0-9A-Za-z_])/g,
  (m) => {
    const text = m[0];
    const want = IBAN_LENGTH[text.slice(0, 2)];
    if (want === undefined) return null;
    let compact = '';
    let end = 0;
    for (let i = 0; i < text.length && compact.length < want; i++) {
      if (text[i] !== ' ') compact += text[i];
      end = i + 1;
    }
    if (compact.length !== want) return null;
    // The IBAN must end where a group ends (at the end of the candidate or before a space).
    if (end < text.length && text[end] !== ' ') return null;
    if (!ibanChecksumValid(compact)) return null;
    return [m.index, m.index + end];
  },
);
