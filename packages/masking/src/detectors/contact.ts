import { regexDetector, type Detector } from './types.js';

// Bytes >= 0x80 are parts of UTF-8 characters (internationalized local parts and domains).
const LOCAL = 'A-Za-z0-9._%+\\-\\x80-\\xff';
const LABEL = 'A-Za-z0-9\\x80-\\xff';

/**
 * `email`: dot-atom local part, `@`, two or more domain labels with a TLD of at least two
 * letters. Internationalized (UTF-8) local parts and domains are matched as a whole. Not
 * covered: quoted local parts and IP-literal domains.
 */
export const email: Detector = regexDetector(
  'email',
  new RegExp(
    `(?<![${LOCAL}])[${LOCAL}]+@(?:[${LABEL}](?:[${LABEL}-]{0,61}[${LABEL}])?\\.)+[A-Za-z\\x80-\\xff]{2,}(?![${LABEL}-]|\\.[${LABEL}])`,
    'g',
  ),
  (m) => {
    const at = m[0].indexOf('@');
    // A local part of only dots/dashes ("--@x.io") or starting/ending with a dot is not an address.
    const local = m[0].slice(0, at);
    return /[A-Za-z0-9\x80-\xff]/.test(local) && local[0] !== '.' && local[local.length - 1] !== '.';
  },
);

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

// Each alternative needs separators or a leading '+', so bare integers, dates (2024-01-15,
// 15.01.2024), times, versions and IPv4 addresses are not phone numbers.
const PHONE = new RegExp(
  '(?<![0-9A-Za-z_.+/-])(?:' +
    // E.164, optionally grouped: +14155552671, +1 415 555 2671, +44 (20) 7946-0958
    '\\+[1-9]\\d{0,14}(?:[ .-]\\(?\\d{1,5}\\)?|\\(\\d{1,5}\\)[ .-]?\\d{1,5}){0,6}' +
    // North American: (415) 555-2671, 415-555-2671, 415.555.2671, 415 555 2671, 1-800-555-0199
    '|(?:1[ .-])?\\(\\d{3}\\) ?\\d{3}[ .-]\\d{4}' +
    '|(?:1([ .-]))?\\d{3}([ .-])\\d{3}\\2\\d{4}' +
    // Trunk-prefixed national numbers grouped with spaces: 020 7946 0958, 07700 900123, 01 23 45 67 89
    '|0\\d{1,4}(?: \\d{2,8}){1,4}' +
    ')(?![0-9A-Za-z_]|[.-]\\d|/\\d)',
  'g',
);

/**
 * `phone`: E.164 numbers (`+` and 8–15 digits, optionally grouped by spaces, dots, dashes or a
 * parenthesized area code), North American formats with separators, and trunk-prefixed
 * national numbers grouped by spaces (10–11 digits). Plain integers, dates, times, versions and
 * IP addresses are not matched.
 */
export const phone: Detector = regexDetector('phone', PHONE, (m) => {
  const text = m[0];
  const n = digitCount(text);
  if (text[0] === '+') return n >= 8 && n <= 15;
  if (text[0] === '0' && !text.includes('-') && !text.includes('(')) return n >= 10 && n <= 11;
  return n === 10 || n === 11;
});
