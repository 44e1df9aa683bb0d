import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/**
 * Prometheus metrics of one process (docs/operations.md, "Metrics"). The data path never calls
 * prom-client per message: sessions already count statements, bytes, blocks and masked cells in
 * plain numbers, and the metrics below read them at scrape time from registered sources; the
 * latency histograms are preallocated arrays. In the embedded stack the gateway and the API share
 * this one registry, served by the API at /metrics.
 */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'warden_' });

/** What one connection+protocol of one process's sessions add up to, live and finished. */
export interface SessionTotals {
  connection: string;
  protocol: string;
  active: number;
  /** Monotonic: live sessions' counters plus those of the sessions that ended. */
  started: number;
  statements: number;
  blocked: number;
  held: number;
  maskedCells: number;
  bytesIn: number;
  bytesOut: number;
}

export type SessionTotalsSource = () => SessionTotals[] | Promise<SessionTotals[]>;
type CountSource = () => Record<string, number> | Promise<Record<string, number>>;

const sessionSources = new Set<SessionTotalsSource>();
const agentSources = new Set<CountSource>();
const pendingReviewSources = new Set<() => Promise<number>>();

export function registerSessionSource(source: SessionTotalsSource): () => void {
  sessionSources.add(source);
  return () => sessionSources.delete(source);
}

/** Agent name → connected tunnel streams, from a gateway's tunnel server. */
export function registerAgentSource(source: CountSource): () => void {
  agentSources.add(source);
  return () => agentSources.delete(source);
}

/** Pending reviews (the API reads them from the database at scrape time). */
export function registerPendingReviewSource(source: () => Promise<number>): () => void {
  pendingReviewSources.add(source);
  return () => pendingReviewSources.delete(source);
}

/** One scrape reads the session sources once for every metric derived from them. */
let scrape: { at: number; totals: Promise<SessionTotals[]> } | undefined;
function sessionTotals(): Promise<SessionTotals[]> {
  const now = Date.now();
  if (!scrape || now - scrape.at > 250) {
    const totals = (async () => {
      const merged = new Map<string, SessionTotals>();
      for (const source of sessionSources) {
        for (const t of await source()) {
          const key = `${t.connection}\u0000${t.protocol}`;
          const into = merged.get(key);
          if (!into) merged.set(key, { ...t });
          else for (const field of FIELDS) into[field] += t[field];
        }
      }
      return [...merged.values()];
    })();
    scrape = { at: now, totals };
  }
  return scrape.totals;
}
const FIELDS = ['active', 'started', 'statements', 'blocked', 'held', 'maskedCells', 'bytesIn', 'bytesOut'] as const;

function fromSessions(kind: 'gauge' | 'counter', name: string, help: string, field: (typeof FIELDS)[number]): void {
  const labelNames = ['connection', 'protocol'];
  const collect = async function (this: Gauge | Counter) {
    this.reset();
    for (const t of await sessionTotals()) {
      const labels = { connection: t.connection, protocol: t.protocol };
      if (this instanceof Gauge) this.set(labels, t[field]);
      else if (t[field] > 0) this.inc(labels, t[field]);
    }
  };
  if (kind === 'gauge') new Gauge({ name, help, labelNames, registers: [metricsRegistry], collect });
  else new Counter({ name, help, labelNames, registers: [metricsRegistry], collect });
}

fromSessions('gauge', 'warden_sessions_active', 'Live client sessions by connection and protocol.', 'active');
fromSessions('counter', 'warden_sessions_started_total', 'Client sessions opened.', 'started');
fromSessions(
  'counter',
  'warden_statements_total',
  'Statements (queries, executes, function calls) received from clients; rate() gives statements per second.',
  'statements',
);
fromSessions(
  'counter',
  'warden_statements_blocked_total',
  'Statements refused by policy or by a review outcome.',
  'blocked',
);
fromSessions('counter', 'warden_statements_held_total', 'Statements held for review.', 'held');
fromSessions('counter', 'warden_masked_cells_total', 'Result cells masked by agents.', 'maskedCells');
fromSessions(
  'counter',
  'warden_client_bytes_received_total',
  'Bytes received from clients and relayed into the tunnel.',
  'bytesIn',
);
fromSessions(
  'counter',
  'warden_client_bytes_sent_total',
  'Bytes received from the tunnel and sent to clients.',
  'bytesOut',
);

new Gauge({
  name: 'warden_agent_connections',
  help: 'Tunnel streams agents hold to this gateway, by agent.',
  labelNames: ['agent'],
  registers: [metricsRegistry],
  async collect() {
    this.reset();
    const merged: Record<string, number> = {};
    for (const source of agentSources)
      for (const [k, v] of Object.entries(await source())) merged[k] = (merged[k] ?? 0) + v;
    for (const [agent, n] of Object.entries(merged)) this.set({ agent }, n);
  },
});

new Gauge({
  name: 'warden_reviews_pending',
  help: 'Reviews waiting for a decision.',
  registers: [metricsRegistry],
  async collect() {
    let total = 0;
    for (const source of pendingReviewSources) total = Math.max(total, await source());
    this.set(total);
  },
});

/** What one gateway's client limits hold now (apps/gateway client-limits.ts), read at scrape time. */
export interface ClientLimitTotals {
  /** Open client sockets by protocol, handshakes included. */
  connections: Record<string, number>;
  /** Bytes of large client messages reserved in the buffer budget now. */
  bufferedBytes: number;
  /** The budget (WARDEN_CLIENT_MESSAGE_BUDGET_BYTES); 0 when there is none. */
  budgetBytes: number;
  /** Messages refused because the budget was full (monotonic). */
  messagesRefused: number;
}

const clientLimitSources = new Set<() => ClientLimitTotals>();

export function registerClientLimitSource(source: () => ClientLimitTotals): () => void {
  clientLimitSources.add(source);
  return () => clientLimitSources.delete(source);
}

function clientLimitGauge(name: string, help: string, field: 'bufferedBytes' | 'budgetBytes'): void {
  new Gauge({
    name,
    help,
    registers: [metricsRegistry],
    collect() {
      let total = 0;
      for (const source of clientLimitSources) total += source()[field];
      this.set(total);
    },
  });
}

new Gauge({
  name: 'warden_client_connections',
  help: 'Client sockets the gateway holds open, by protocol (handshakes included); capped by WARDEN_MAX_CLIENT_CONNECTIONS.',
  labelNames: ['protocol'],
  registers: [metricsRegistry],
  collect() {
    this.reset();
    const merged: Record<string, number> = {};
    for (const source of clientLimitSources)
      for (const [k, v] of Object.entries(source().connections)) merged[k] = (merged[k] ?? 0) + v;
    for (const [protocol, n] of Object.entries(merged)) this.set({ protocol }, n);
  },
});
clientLimitGauge(
  'warden_client_message_buffered_bytes',
  'Bytes of large client messages (over 64 KiB) the gateway holds now, from their header until sent to the agent.',
  'bufferedBytes',
);
clientLimitGauge(
  'warden_client_message_budget_bytes',
  'The buffer budget for large client messages (WARDEN_CLIENT_MESSAGE_BUDGET_BYTES; 0: none).',
  'budgetBytes',
);
new Counter({
  name: 'warden_client_messages_refused_total',
  help: 'Client messages refused with SQLSTATE 54000 because the buffer budget was full.',
  registers: [metricsRegistry],
  collect() {
    this.reset();
    let total = 0;
    for (const source of clientLimitSources) total += source().messagesRefused;
    if (total > 0) this.inc(total);
  },
});

/** Client connections refused or cut at the door (rare events: counted as they happen). */
export const clientLimitMetrics = {
  connectionsRefused: new Counter({
    name: 'warden_client_connections_refused_total',
    help: 'Client connections refused by a connection cap, by protocol and limit (gateway, address).',
    labelNames: ['protocol', 'limit'],
    registers: [metricsRegistry],
  }),
  startupTimeouts: new Counter({
    name: 'warden_client_startup_timeouts_total',
    help: 'Client connections closed because they were not authenticated within WARDEN_CLIENT_STARTUP_TIMEOUT_MS.',
    labelNames: ['protocol'],
    registers: [metricsRegistry],
  }),
};

/** Faults a process lives through (docs/operations.md, "Faults and limits"): counted as they happen. */
export const faultMetrics = {
  containmentReconciled: new Counter({
    name: 'warden_containment_reconciled_total',
    help: 'Sessions a gateway ended from its database check (a kill or block the control bus did not deliver), by action.',
    labelNames: ['action'],
    registers: [metricsRegistry],
  }),
  containmentReconcileFailures: new Counter({
    name: 'warden_containment_reconcile_failures_total',
    help: 'Database checks for kills and blocks that failed (retried at the next interval).',
    registers: [metricsRegistry],
  }),
  sessionsRecovered: new Counter({
    name: 'warden_sessions_recovered_total',
    help: 'Sessions a crashed gateway left open, ended interrupted and sealed: by its own restart or by another replica (takeover).',
    labelNames: ['how'],
    registers: [metricsRegistry],
  }),
};

const busSources = new Set<() => boolean>();

/** Whether this process's control bus (Redis) is connected; 1 while every registered bus is up. */
export function registerBusSource(source: () => boolean): () => void {
  busSources.add(source);
  return () => busSources.delete(source);
}

new Gauge({
  name: 'warden_control_bus_up',
  help: 'Whether the control bus (Redis) is connected: 1 up, 0 down (kills and blocks then reach gateways through their database check).',
  registers: [metricsRegistry],
  collect() {
    if (busSources.size === 0) return;
    this.set([...busSources].every((up) => up()) ? 1 : 0);
  },
});

/** Counters of things that happen per event or request, not per message. */
export const eventMetrics = {
  stored: new Counter({
    name: 'warden_events_total',
    help: 'Catalog events dispatched, by type.',
    labelNames: ['type'],
    registers: [metricsRegistry],
  }),
  deliveries: new Counter({
    name: 'warden_webhook_deliveries_total',
    help: 'Webhook delivery attempts by result (delivered, retry, failed = dead-lettered).',
    labelNames: ['result'],
    registers: [metricsRegistry],
  }),
  streamClients: new Gauge({
    name: 'warden_event_stream_clients',
    help: 'Open /api/events/stream connections.',
    registers: [metricsRegistry],
  }),
};

/** Upper bounds (seconds) of the latency histograms: 50 µs … 10 s. */
const LATENCY_BOUNDS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

/**
 * A Prometheus histogram for hot paths: observe() is a bounded scan over a preallocated array, no
 * allocation and no label lookup (prom-client's observe builds closures per call).
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(LATENCY_BOUNDS.length + 1);
  private sum = 0;
  private count = 0;
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
  ) {
    metricsRegistry.registerMetric(this as never);
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS.length && seconds > LATENCY_BOUNDS[i]!) i++;
    this.counts[i]! += 1;
    this.sum += seconds;
    this.count += 1;
  }

  /** prom-client's metric interface. */
  async get() {
    const values: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    let cumulative = 0;
    LATENCY_BOUNDS.forEach((bound, i) => {
      cumulative += this.counts[i]!;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: bound }, value: cumulative });
    });
    values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf' }, value: this.count });
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: this.count });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export const latency = {
  decide: new LatencyHistogram(
    'warden_policy_decide_seconds',
    'Time policy took to decide one statement (cached decisions included).',
  ),
  relay: new LatencyHistogram(
    'warden_relay_seconds',
    'From forwarding client statements into the tunnel to the first response bytes back (agent + target round trip).',
  ),
  record: new LatencyHistogram('warden_recording_flush_seconds', 'Time to write one batch of recorded events.'),
};

/** Whether an Authorization header carries the metrics token (constant-time). */
export function metricsAuthorized(token: string | undefined, authorization: string | undefined): boolean {
  if (!token) return true;
  const expected = Buffer.from(`Bearer ${token}`);
  const given = Buffer.from(authorization ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * /metrics on its own port, for the gateway and agent run as separate processes (the API serves
 * its registry on its own port). Optionally protected by a bearer token.
 */
export async function serveMetrics(
  address: { host: string; port: number },
  options: { token?: string | undefined } = {},
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    if (path !== '/metrics') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    if (!metricsAuthorized(options.token, req.headers.authorization))
      return void res.writeHead(401, { 'content-type': 'text/plain' }).end('metrics token required\n');
    metricsRegistry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metricsRegistry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('could not collect metrics\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
