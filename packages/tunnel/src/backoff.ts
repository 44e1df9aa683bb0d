export interface BackoffOptions {
  /** Upper bound of the first delay. Default 500 ms. */
  initialMs?: number;
  /** Cap on the upper bound. Default 30 s. */
  maxMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter: delay = random(0, min(max, initial * 2^attempt)).
 * Full jitter (rather than a fixed exponential step) spreads out a fleet of agents that
 * all lost the same gateway at once, so a restarted gateway is not hit by a thundering herd.
 */
export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.random = options.random ?? Math.random;
  }

  /** Number of consecutive failures so far. */
  get attempts(): number {
    return this.attempt;
  }

  /** Upper bound of the next delay (before jitter). */
  ceiling(): number {
    // Clamp the exponent so 2^attempt never overflows to Infinity.
    return Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 40));
  }

  /** Delay before the next attempt; each call counts as one more failure. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceiling());
    this.attempt++;
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
