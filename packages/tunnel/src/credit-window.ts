/**
 * Sending half of per-session flow control: how many payload bytes the peer has
 * allowed us to send. Writers take from it and wait when it is empty.
 */
export class SendCredit {
  private available: number;
  private waiter: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(initial = 0) {
    this.available = initial;
  }

  get bytes(): number {
    return this.available;
  }

  add(bytes: number): void {
    this.available += bytes;
    if (this.available > 0 && this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = null;
      resolve();
    }
  }

  /** Takes up to `max` bytes of credit (possibly 0). */
  take(max: number): number {
    const n = Math.min(max, this.available);
    this.available -= n;
    return n;
  }

  /** Resolves once some credit is available; rejects once fail() was called. */
  wait(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.available > 0) return Promise.resolve();
    // One writer per session (Writable serialises _write calls), so one waiter suffices.
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Wakes a blocked writer with an error: the session is gone, no credit will come. */
  fail(err: Error): void {
    this.failure ??= err;
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = null;
      reject(err);
    }
  }
}

/**
 * Receiving half: decides how much credit to grant the peer. The invariant is
 *   (bytes granted but not yet received) + (bytes received but not yet consumed) <= window
 * so the peer can never make us hold more than `window` bytes for this session.
 * Credit is returned only for bytes the local consumer has actually taken out of
 * the stream's readable buffer, which is what makes a slow reader slow the writer.
 */
export class ReceiveWindow {
  private granted: number;
  private received = 0;
  /** Grant only in batches of at least this much, so a fast consumer does not cause a Credit frame per Data frame. */
  private readonly threshold: number;

  constructor(readonly window: number) {
    this.granted = window;
    this.threshold = Math.max(1, Math.floor(window / 4));
  }

  /** Records an incoming Data payload; false when it exceeds the credit granted (a protocol violation). */
  receive(bytes: number): boolean {
    this.received += bytes;
    return this.received <= this.granted;
  }

  /**
   * Credit to grant now given `buffered` unconsumed bytes, or 0 when not worth a frame yet.
   * The caller must send what this returns: it is counted as granted.
   */
  grant(buffered: number): number {
    const consumed = this.received - buffered;
    const grant = consumed + this.window - this.granted;
    if (grant < this.threshold) return 0;
    this.granted += grant;
    return grant;
  }
}
