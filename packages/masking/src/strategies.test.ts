import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Hasher, applyStrategy, keepDomain, keepLast4, maskText, redaction } from './index.js';

const key = Buffer.alloc(32, 7);

describe('strategies', () => {
  it('redact names the detector, or not for column rules', () => {
    expect(redaction('email')).toBe('[REDACTED:email]');
    expect(redaction()).toBe('[REDACTED]');
    expect(maskText('x a@b.com', { detectors: { email: 'redact' } }).text).toBe('x [REDACTED:email]');
  });

  it('last4 keeps the last 4 significant characters and drops separators', () => {
    expect(keepLast4('4242 4242 4242 4242')).toBe('************4242');
    expect(keepLast4('123-45-6789')).toBe('*****6789');
    expect(keepLast4('+1 (415) 555-2671')).toBe('*******2671');
    expect(keepLast4('1234567')).toBe('*******'); // too short to reveal 4
    expect(keepLast4('12')).toBe('****');
    expect(maskText('card 4242-4242-4242-4242.', { detectors: { credit_card: 'last4' } }).text).toBe(
      'card ************4242.',
    );
  });

  it('domain keeps an email domain, redacts anything else', () => {
    expect(keepDomain('ada@example.com')).toBe('****@example.com');
    expect(keepDomain('no-at-sign')).toBeNull();
    expect(maskText('mail ada@example.com', { detectors: { email: 'domain' } }).text).toBe('mail ****@example.com');
    expect(applyStrategy('domain', '123-45-6789', new Hasher(key), 'us_ssn')).toBe('[REDACTED:us_ssn]');
    // Non-ASCII domains come back byte for byte.
    expect(maskText('jöhn@exämple.de', { detectors: { email: 'domain' } }).text).toBe('****@exämple.de');
  });

  it('hash is deterministic per key, differs across keys, and never shows the key', () => {
    const h1 = maskText('a@b.com and a@b.com and c@d.com', { detectors: { email: 'hash' } }, key).text;
    const [x, y, z] = h1.split(' and ');
    expect(x).toMatch(/^h:[0-9a-f]{16}$/);
    expect(x).toBe(y);
    expect(z).not.toBe(x);
    const other = maskText('a@b.com', { detectors: { email: 'hash' } }, Buffer.alloc(32, 8)).text;
    expect(other).not.toBe(x);
    const hasher = new Hasher(key);
    expect(inspect(hasher)).not.toContain('07');
    expect(JSON.stringify({ hasher })).not.toContain('7');
    expect(() => new Hasher(Buffer.alloc(8))).toThrow(/16 bytes/);
    expect(new Hasher(Buffer.alloc(0)).token('x')).toMatch(/^h:/); // empty = none: a random key
  });

  it('hash keeps integer and uuid types', () => {
    const h = new Hasher(key);
    const v = h.integer('42', 4);
    expect(v).toBe(h.integer('42', 4));
    expect(v).toBeLessThan(2n ** 31n);
    expect(v).toBeGreaterThanOrEqual(0n);
    expect(h.integer('42', 2)).toBeLessThan(2n ** 15n);
    const u = h.uuid('550e8400-e29b-41d4-a716-446655440000');
    expect(u.length).toBe(16);
    expect(u[6]! >> 4).toBe(8); // version 8
    expect(u[8]! >> 6).toBe(2); // RFC 9562 variant
  });
});
