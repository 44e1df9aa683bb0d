import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../errors.js';
import { apiMetrics } from '../observability/api-metrics.js';
import type { ApiInstance } from '../types.js';

/** Failed authentications per client address; see authThrottlePlugin. */
export interface AuthThrottle {
  /** Refuses (429 with Retry-After) a request whose address is locked out; looks nothing up. */
  check(request: FastifyRequest): Promise<void>;
  /** Counts a failed authentication (a wrong, expired or revoked credential) of the request's address. */
  failed(request: FastifyRequest): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    authThrottle: AuthThrottle;
  }
}

const off: AuthThrottle = { check: async () => {}, failed: async () => {} };

/**
 * The API's side of the gateway's login lockout, with the same settings: a client address that
 * fails WARDEN_LOGIN_MAX_FAILURES authentications within WARDEN_LOGIN_LOCKOUT_MS is refused with 429
 * for WARDEN_LOGIN_LOCKOUT_MS from its last counted failure, whatever it sends (a valid token too:
 * one good token must not let an address keep guessing others), without its token being looked up.
 * WARDEN_LOGIN_MAX_FAILURES=0 turns it off.
 *
 * Counting is @fastify/rate-limit's (its in-memory LRU store, per process, as the gateway's): the
 * limiter is incremented only on failures, and read without incrementing before authenticating.
 * With continueExceeding, the failure that reaches the limit restarts the window, so a lockout
 * always lasts the whole WARDEN_LOGIN_LOCKOUT_MS. IPv6 addresses count per /64 (the plugin's key).
 * Requests without any credential are not counted: they look nothing up.
 */
export const authThrottlePlugin = fp(async (app: ApiInstance) => {
  const { loginMaxFailures, loginLockoutMs } = app.services.config;
  if (loginMaxFailures <= 0) {
    app.decorate('authThrottle', off);
    return;
  }
  await app.register(rateLimit, {
    // No route is limited on its own: only what createRateLimit() below counts.
    global: false,
    // Exceeded from the max-th failure on (the plugin refuses past `max`).
    max: loginMaxFailures - 1,
    timeWindow: loginLockoutMs,
    continueExceeding: true,
    // Addresses tracked at most (least recently counted forgotten first), as the gateway's throttle.
    cache: 10_000,
    skipOnError: true,
  });
  const limiter = app.createRateLimit();

  app.decorate('authThrottle', {
    async check(request) {
      const state = await limiter(request, { increment: false });
      if (state.isAllowed || !state.isExceeded) return;
      apiMetrics.authThrottled.inc();
      const seconds = Math.max(1, state.ttlInSeconds);
      throw new ApiError(
        429,
        `too many failed authentications from this address; try again in ${seconds} s`,
        undefined,
        { 'retry-after': String(seconds) },
      );
    },
    async failed(request) {
      apiMetrics.authFailures.inc();
      const state = await limiter(request);
      // check() let this request through, so the address was not locked before this failure.
      if (state.isAllowed || !state.isExceeded) return;
      apiMetrics.authLockouts.inc();
      request.log.warn(
        { client: state.key, failures: loginMaxFailures, lockoutMs: loginLockoutMs },
        'too many failed authentications; address locked out of the API',
      );
    },
  } satisfies AuthThrottle);
});
