import { createHmac, randomBytes } from 'node:crypto';

/**
 * How a sensitive value is replaced.
 *
 * - `redact`: `[REDACTED:<detector id>]` for a detected value, `[REDACTED]` for a whole cell
 *   masked by a column rule. Brackets, letters, `:` and `_` only: the replacement stays valid
 *   inside JSON strings, XML text, array literals and COPY text/CSV lines, and says what was there.
 * - `last4`: every significant character (ASCII letter or digit) but the last four becomes one
 *   `*`; separators are dropped: `4242 4242 4242 4242` → `************4242`. Values with fewer
 *   than 8 significant characters are starred entirely (keeping 4 of them would reveal too much).
 * - `domain`: an email's local part becomes `****`: `****@example.com`. Anything that is not an
 *   email is redacted.
 * - `hash`: `h:` and the first 16 hex digits (64 bits) of HMAC-SHA-256(key, value bytes), with a
 *   per-connection key: equal values give equal outputs within the connection, so joins and
 *   group-bys still work, while the key (never output) keeps values from being guessed and hashes
 *   from being correlated across connections that use different keys.
 */
export type Strategy = 'redact' | 'last4' | 'domain' | 'hash';

export const STRATEGIES: readonly Strategy[] = ['redact', 'last4', 'domain', 'hash'];

export function isStrategy(s: string): s is Strategy {
  return (STRATEGIES as readonly string[]).includes(s);
}

/** Hex digits kept from the HMAC in `hash` output. */
export const HASH_HEX_DIGITS = 16;

/** Keyed hashing for the `hash` strategy. Holds the key; never exposes it. */
export class Hasher {
  readonly #key: Buffer;
  readonly #cache = new Map<string, string>();

  /**
   * `key` defaults to 32 random bytes (also when empty): hashes are then stable only within this
   * Hasher. A non-empty key shorter than 16 bytes is refused.
   */
  constructor(key?: Uint8Array | string) {
    this.#key = key === undefined || key.length === 0 ? randomBytes(32) : Buffer.from(key as Uint8Array);
    if (this.#key.length < 16) throw new RangeError('hash key must be at least 16 bytes');
  }

  /** The raw HMAC-SHA-256 of `value` (bytes, or a latin1 view of bytes). */
  digest(value: Uint8Array | string): Buffer {
    const h = createHmac('sha256', this.#key);
    if (typeof value === 'string') h.update(value, 'latin1');
    else h.update(value);
    return h.digest();
  }

  /** `h:` + 16 hex digits. Recent short values are cached: joined keys repeat. */
  token(value: Uint8Array | string): string {
    const cacheable = typeof value === 'string' && value.length <= 256;
    if (cacheable) {
      const hit = this.#cache.get(value);
      if (hit !== undefined) return hit;
    }
    const t = 'h:' + this.digest(value).toString('hex', 0, HASH_HEX_DIGITS / 2);
    if (cacheable) {
      if (this.#cache.size >= 4096) this.#cache.clear();
      this.#cache.set(value, t);
    }
    return t;
  }

  /** A deterministic non-negative integer that fits a signed integer of `bytes` bytes (2, 4, 8). */
  integer(canonical: string, bytes: 2 | 4 | 8): bigint {
    const d = this.digest(canonical);
    const v = d.readBigUInt64BE(0);
    return v & ((1n << BigInt(bytes * 8 - 1)) - 1n);
  }

  /** A deterministic UUID (RFC 9562 version 8, custom) as 16 bytes. */
  uuid(canonical: string): Buffer {
    const b = this.digest(canonical).subarray(0, 16);
    b[6] = (b[6]! & 0x0f) | 0x80;
    b[8] = (b[8]! & 0x3f) | 0x80;
    return b;
  }

  // Keep the key out of console.log / util.inspect / JSON.
  toJSON(): string {
    return 'Hasher';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Hasher {}';
  }
}

function isSignificant(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122);
}

/** `last4` of a latin1 view (or ASCII string). */
export function keepLast4(value: string): string {
  let n = 0;
  for (let i = 0; i < value.length; i++) if (isSignificant(value.charCodeAt(i))) n++;
  if (n < 8) return '*'.repeat(Math.max(n, 4));
  let tail = '';
  for (let i = value.length - 1; i >= 0 && tail.length < 4; i--) {
    if (isSignificant(value.charCodeAt(i))) tail = value[i] + tail;
  }
  return '*'.repeat(n - 4) + tail;
}

/** `domain` of a latin1 view: `****@` + the original domain bytes, or null if not an email. */
export function keepDomain(value: string): string | null {
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return null;
  return '****@' + value.slice(at + 1);
}

export function redaction(label?: string): string {
  return label === undefined ? '[REDACTED]' : `[REDACTED:${label}]`;
}

/**
 * Apply `strategy` to `value`, a latin1 view of the original bytes; the result is also a latin1
 * view (replacement text is ASCII; kept parts are original bytes), to be turned back into bytes
 * with `Buffer.from(result, 'latin1')`. `label` names the detector (omitted for column rules).
 */
export function applyStrategy(strategy: Strategy, value: string, hasher: Hasher, label?: string): string {
  switch (strategy) {
    case 'last4':
      return keepLast4(value);
    case 'domain':
      return keepDomain(value) ?? redaction(label);
    case 'hash':
      return hasher.token(value);
    default:
      return redaction(label);
  }
}
