import { createHash, randomBytes, randomInt } from 'node:crypto';

/**
 * Canary values: planted in the target, and never allowed to reach a client (as bytes, in any
 * message) or, for the values of masked columns, anywhere else in the target.
 *
 * Column-rule canaries (values of masked columns) are random, so no detector recognises them: only
 * the column rules and the policy's masking proof stand between them and the client. A function
 * over them is refused by policy, so their common transforms (case, reversed, hex, base64, md5,
 * any 8-character piece) count as leaks too. Detector canaries (emails, card numbers) sit in
 * unmasked columns; detectors cannot recognise a transformed value, so only their exact forms
 * count.
 */
export interface CanarySet {
  /** Values of customers.secret (rule: redact), by customer id. */
  secrets: string[];
  /** Values of customers.token (rule: last4). */
  tokens: string[];
  /** Values of customers.email (detector: email). */
  emails: string[];
  /** Values of customers.card, 16 Luhn-valid digits (detector: credit_card). */
  cards: string[];
  /** The content of a server file only server-side file access can read. */
  fileSecret: string;
}

const ALNUM = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

function randomToken(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALNUM[randomInt(ALNUM.length)];
  return out;
}

function luhnCard(): string {
  const digits = [4, ...Array.from({ length: 14 }, () => randomInt(10))];
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    // From the right, once the check digit is appended, every second digit is doubled.
    let d = digits[digits.length - 1 - i]!;
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return [...digits, (10 - (sum % 10)) % 10].join('');
}

export function makeCanaries(rows = 4): CanarySet {
  return {
    secrets: Array.from({ length: rows }, () => randomToken(16)),
    tokens: Array.from({ length: rows }, () => randomToken(16)),
    emails: Array.from({ length: rows }, () => `canary.${randomBytes(5).toString('hex')}@leak-check.example`),
    cards: Array.from({ length: rows }, () => luhnCard()),
    fileSecret: `FILECANARY${randomToken(16)}`,
  };
}

/** A form of a canary that counts as a leak, and what it is, for reports. */
export interface CanaryForm {
  bytes: Buffer;
  what: string;
  /** The canary this is a form of (one finding per canary is enough). */
  canary: string;
}

/** Every form of the column-rule canaries that counts as a leak. */
export function maskedForms(set: CanarySet): CanaryForm[] {
  return transformedForms([
    ...set.secrets.map((v) => ['customers.secret', v] as const),
    ...set.tokens.map((v) => ['customers.token', v] as const),
  ]);
}

/** Every form of the server file's content that counts as a leak. */
export function fileForms(set: CanarySet): CanaryForm[] {
  return transformedForms([['server file', set.fileSecret]]);
}

function transformedForms(values: readonly (readonly [origin: string, value: string])[]): CanaryForm[] {
  const forms: CanaryForm[] = [];
  for (const [origin, value] of values) {
    const add = (form: string, how: string) =>
      forms.push({ bytes: Buffer.from(form), what: `${origin} ${how}`, canary: value });
    add(value, `as is (${value})`);
    add(value.toLowerCase(), `lower-cased (${value})`);
    add(value.toUpperCase(), `upper-cased (${value})`);
    add([...value].reverse().join(''), `reversed (${value})`);
    add(Buffer.from(value).toString('hex'), `as hex (${value})`);
    add(Buffer.from(value).toString('base64').replace(/=+$/, ''), `as base64 (${value})`);
    add(createHash('md5').update(value).digest('hex'), `md5 (${value})`);
    // Any 8-character piece (substr, left, right, split_part...).
    for (let i = 0; i + 8 <= value.length; i++) add(value.slice(i, i + 8), `piece ${i} (${value})`);
  }
  return forms;
}

/** Exact forms of the detector canaries that must not reach a client. */
export function detectorForms(set: CanarySet): CanaryForm[] {
  return [
    ...set.emails.map((e) => ({ bytes: Buffer.from(e), what: `email (${e})`, canary: e })),
    ...set.cards.map((c) => ({ bytes: Buffer.from(c), what: `card number (${c})`, canary: c })),
    ...set.cards.map((c) => ({
      bytes: Buffer.from(c.replace(/(\d{4})(?=\d)/g, '$1 ')),
      what: `card number, spaced (${c})`,
      canary: c,
    })),
  ];
}

/** The forms found in `haystack` (case-sensitive bytes; lower/upper-cased forms are forms of their own). */
export function findForms(haystack: Buffer, forms: readonly CanaryForm[]): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  for (const form of forms) {
    if (seen.has(form.canary) || haystack.indexOf(form.bytes) < 0) continue;
    seen.add(form.canary);
    found.push(form.what);
  }
  return found;
}
