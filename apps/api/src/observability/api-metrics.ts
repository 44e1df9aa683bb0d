import { metricsRegistry } from '@warden/runtime/metrics';

/**
 * A Prometheus counter without labels, served from the process registry (/metrics). The API's
 * package does not depend on prom-client itself; the registry only needs this shape (as the
 * runtime's LatencyHistogram).
 */
class PlainCounter {
  private value = 0;
  readonly type = 'counter';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
  ) {
    metricsRegistry.registerMetric(this as never);
  }

  inc(by = 1): void {
    this.value += by;
  }

  /** prom-client's metric interface. */
  async get() {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: [{ labels: {}, value: this.value }],
    };
  }

  reset(): void {
    this.value = 0;
  }
}

/** Counters of the API's refusals that operators watch (docs/operations.md, "Metrics"). */
export const apiMetrics = {
  authFailures: new PlainCounter(
    'warden_api_auth_failures_total',
    'API requests refused with 401 for a wrong, expired or revoked credential (requests without one are not counted).',
  ),
  authLockouts: new PlainCounter(
    'warden_api_auth_lockouts_total',
    'Client addresses locked out of the API after WARDEN_LOGIN_MAX_FAILURES failed authentications.',
  ),
  authThrottled: new PlainCounter(
    'warden_api_auth_throttled_total',
    'API requests refused with 429 because their address is locked out.',
  ),
  controlPlaneUnavailable: new PlainCounter(
    'warden_api_control_plane_unavailable_total',
    'API requests answered 503 because the control-plane database could not be used.',
  ),
};
