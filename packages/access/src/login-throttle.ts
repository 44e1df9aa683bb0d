export interface LoginThrottleOptions {
  /** Failed logins from one address within `lockoutMs` that lock it out; 0 turns the throttle off. */
  maxFailures: number;
  /** How long failures count, and how long a locked-out address waits. */
  lockoutMs: number;
  /** Addresses tracked at most; the oldest are forgotten first (a flood of addresses cannot grow it). */
  maxAddresses?: number;
  now?: () => number;
}

interface AddressState {
  /** Times of the failures still counting, oldest first. */
  failures: number[];
  lockedUntil: number;
}

/**
 * Slows token guessing at the gateway's listeners: an address that fails `maxFailures` logins
 * within `lockoutMs` is refused for `lockoutMs` without its token being looked up. Tokens are
 * long random secrets, so this is less about guessing one than about an address hammering the
 * control plane with lookups and the logs with refusals. Successful logins do not reset the count:
 * one valid token must not let an address keep trying others. Per process: each replica counts
 * what it sees. Behind a load balancer that hides client addresses every client shares one
 * address, so such deployments raise the limit or turn it off.
 */
export class LoginThrottle {
  private readonly addresses = new Map<string, AddressState>();
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(private readonly options: LoginThrottleOptions) {
    this.maxAddresses = options.maxAddresses ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds until `address` may try to log in again; 0 when it may now. */
  retryAfter(address: string | undefined): number {
    if (!this.enabled(address)) return 0;
    const state = this.addresses.get(address);
    if (!state) return 0;
    return Math.max(0, state.lockedUntil - this.now());
  }

  /** Counts a failed login from `address`; returns true when that locked it out. */
  failed(address: string | undefined): boolean {
    if (!this.enabled(address)) return false;
    const now = this.now();
    let state = this.addresses.get(address);
    if (state) {
      // Re-inserted last, so the map's order is least recently failed first.
      this.addresses.delete(address);
    } else {
      state = { failures: [], lockedUntil: 0 };
      if (this.addresses.size >= this.maxAddresses) this.forgetOldest();
    }
    this.addresses.set(address, state);
    const since = now - this.options.lockoutMs;
    while (state.failures.length > 0 && state.failures[0]! <= since) state.failures.shift();
    state.failures.push(now);
    if (state.failures.length < this.options.maxFailures) return false;
    state.failures = [];
    state.lockedUntil = now + this.options.lockoutMs;
    return true;
  }

  private enabled(address: string | undefined): address is string {
    return this.options.maxFailures > 0 && address !== undefined;
  }

  private forgetOldest(): void {
    const oldest = this.addresses.keys().next();
    if (!oldest.done) this.addresses.delete(oldest.value);
  }
}
