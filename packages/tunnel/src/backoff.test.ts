import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles the ceiling from initialMs up to maxMs', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0.999999 });
    const delays = Array.from({ length: 10 }, () => b.next());
    expect(delays.slice(0, 7)).toEqual([499, 999, 1999, 3999, 7999, 15999, 29999]);
    expect(Math.max(...delays)).toBeLessThan(30_000);
  });

  it('applies full jitter: every delay in [0, ceiling)', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1_000 });
    for (let i = 0; i < 200; i++) {
      const ceiling = b.ceiling();
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(ceiling);
    }
    expect(b.ceiling()).toBe(1_000);
  });

  it('reset() starts over and never overflows after many attempts', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 50, random: () => 0.5 });
    for (let i = 0; i < 5_000; i++) b.next();
    expect(b.next()).toBe(25);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(5);
  });
});
