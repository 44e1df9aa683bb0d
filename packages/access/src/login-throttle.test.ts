import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './login-throttle.js';

function throttle(maxFailures: number, extra: { maxAddresses?: number } = {}) {
  const clock = { now: 1_000_000 };
  const t = new LoginThrottle({ maxFailures, lockoutMs: 60_000, now: () => clock.now, ...extra });
  return { t, clock };
}

describe('LoginThrottle', () => {
  it('locks an address out after maxFailures failures within the window, for the window', () => {
    const { t, clock } = throttle(3);
    expect(t.failed('10.0.0.1')).toBe(false);
    expect(t.failed('10.0.0.1')).toBe(false);
    expect(t.retryAfter('10.0.0.1')).toBe(0);
    expect(t.failed('10.0.0.1')).toBe(true);
    expect(t.retryAfter('10.0.0.1')).toBe(60_000);
    // Another address is not affected.
    expect(t.retryAfter('10.0.0.2')).toBe(0);
    clock.now += 59_000;
    expect(t.retryAfter('10.0.0.1')).toBe(1_000);
    clock.now += 1_000;
    expect(t.retryAfter('10.0.0.1')).toBe(0);
    // The count started again: it takes maxFailures new failures to lock it once more.
    expect(t.failed('10.0.0.1')).toBe(false);
    expect(t.failed('10.0.0.1')).toBe(false);
    expect(t.failed('10.0.0.1')).toBe(true);
  });

  it('forgets failures older than the window', () => {
    const { t, clock } = throttle(3);
    t.failed('a');
    t.failed('a');
    clock.now += 60_001;
    expect(t.failed('a')).toBe(false);
    expect(t.failed('a')).toBe(false);
    expect(t.retryAfter('a')).toBe(0);
    expect(t.failed('a')).toBe(true);
  });

  it('is off with maxFailures 0, and for clients without an address', () => {
    const off = throttle(0).t;
    for (let i = 0; i < 100; i++) expect(off.failed('a')).toBe(false);
    expect(off.retryAfter('a')).toBe(0);
    const on = throttle(1).t;
    expect(on.failed(undefined)).toBe(false);
    expect(on.retryAfter(undefined)).toBe(0);
  });

  it('keeps at most maxAddresses, forgetting the least recently failed first', () => {
    const { t } = throttle(2, { maxAddresses: 2 });
    t.failed('a');
    t.failed('b');
    t.failed('a'); // locks a, and makes b the least recent
    t.failed('c'); // forgets b
    expect(t.retryAfter('a')).toBe(60_000);
    expect(t.failed('b')).toBe(false); // b starts from zero again
    expect(t.retryAfter('a')).toBe(0); // a was forgotten for b (a: oldest after c failed)
  });
});
