import { hostname } from 'node:os';
import path from 'node:path';

/** host:port pair a server binds to. */
export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * Every setting the Warden processes read, with the defaults of the public
 * contract (DESIGN.md). Nothing else reads process.env directly, so this file is
 * the configuration reference.
 */
export interface WardenConfig {
  /** Where embedded state lives: PGlite files, generated keys, certificates. */
  dataDir: string;
  /** Control-plane Postgres; unset → embedded PGlite under dataDir. */
  databaseUrl: string | undefined;
  /**
   * How long opening a control-plane connection, or waiting for a free one, may take before the
   * query fails (WARDEN_DATABASE_CONNECT_TIMEOUT_MS, default 10 s); clients then get "try again".
   */
  databaseConnectTimeoutMs: number;
  /** Redis for BullMQ and cross-replica pub/sub; unset → in-process delivery. */
  redisUrl: string | undefined;
  /** Namespace of Warden's keys in Redis (BullMQ queues), so deployments can share one Redis. */
  redisPrefix: string;
  api: ListenAddress;
  /** Where agents dial in (gRPC). */
  grpc: ListenAddress;
  postgres: ListenAddress;
  ssh: ListenAddress;
  httpProxy: ListenAddress;
  /** Base URL users reach the API and console at; used in links (review notices). */
  publicUrl: string;
  /** AES-256-GCM key for secrets stored in the control plane (base64 or hex, 32 bytes). */
  secretKey: string | undefined;
  /** If set when no admin exists, becomes an admin API key. */
  bootstrapAdminKey: string | undefined;
  /**
   * Identifies this gateway replica in sessions and agent records (WARDEN_GATEWAY_ID). Default
   * `<host>-<Postgres listener port>`: the host name (HOSTNAME, else the OS's; a Kubernetes pod's
   * name) stays the same across restarts, and replicas sharing a host cannot share a port.
   */
  gatewayId: string;
  logLevel: string;
  /** Certificate and key files the client listeners present; unset → self-signed in dataDir. */
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  /** Largest accepted API request body. */
  apiBodyLimit: number;
  /** How often the API purges recordings past their connection's retentionDays (default hourly). */
  retentionIntervalMs: number;
  /**
   * How often a gateway refreshes the presence of the agents it holds (default 30 s); a replica
   * that stops refreshing for three intervals no longer keeps its agents online.
   */
  agentPresenceIntervalMs: number;
  /**
   * How often a gateway replica refreshes its own presence and looks for replicas that went away
   * (WARDEN_GATEWAY_PRESENCE_INTERVAL_MS, default the agent presence interval): one that missed
   * three refreshes is gone, and another replica ends the sessions it left open at its next look.
   */
  gatewayPresenceIntervalMs: number;
  /**
   * Failed logins (a wrong or expired token) from one client address within `loginLockoutMs` after
   * which the gateway's Postgres and SSH listeners refuse that address for `loginLockoutMs`
   * (default 20 in 60 s; 0 turns it off, e.g. behind a load balancer that hides client addresses).
   */
  loginMaxFailures: number;
  loginLockoutMs: number;
  /**
   * Client connections (Postgres and SSH together, handshakes included) one gateway holds at once
   * (WARDEN_MAX_CLIENT_CONNECTIONS, default 10000; 0: no cap). Past it a Postgres client gets
   * FATAL 53300 and an SSH client a disconnect message, and the socket is closed at once. Keep it
   * below the process's open-file limit (ulimit -n), with room for agents, databases and Redis.
   */
  maxClientConnections: number;
  /**
   * The same, per client address (WARDEN_MAX_CLIENT_CONNECTIONS_PER_ADDRESS, default 1000; 0: no
   * cap, e.g. behind a load balancer that hides client addresses).
   */
  maxClientConnectionsPerAddress: number;
  /**
   * Bytes of large client messages (over 64 KiB) one gateway buffers at once across all sessions,
   * from their header until they are sent on to the agent (WARDEN_CLIENT_MESSAGE_BUDGET_BYTES,
   * default 128 MiB; 0: no budget). A message that would exceed it ends its session with SQLSTATE
   * 54000; other sessions are untouched. The gateway's peak memory grows by up to about 4 times
   * this with recording on (the recording copies client messages whole), 1.5 times with it off.
   */
  clientMessageBudgetBytes: number;
  /**
   * How long a client may take from connecting to being authenticated (TLS, startup packet and
   * token for Postgres; key exchange and authentication for SSH) before its socket is closed
   * (WARDEN_CLIENT_STARTUP_TIMEOUT_MS, default 30 s, as Postgres' authentication_timeout).
   */
  clientStartupTimeoutMs: number;
  /**
   * Whether the gateway records Postgres sessions in its recording worker thread (default) or on
   * its event loop (WARDEN_RECORDING_WORKER=off: for a single-core host, where the thread only
   * adds handoff cost).
   */
  recordingWorker: boolean;
  /**
   * How often a gateway asks the control plane whether a session it holds was killed or belongs to
   * an identity that was blocked or disabled (WARDEN_CONTAINMENT_RECONCILE_MS, default 2 s). The
   * control bus delivers these at once; this bounds how late they take effect when it is down.
   */
  containmentReconcileMs: number;
  /**
   * How long a process may take to stop on SIGTERM/SIGINT before it exits anyway with code 1
   * (WARDEN_SHUTDOWN_GRACE_MS, default 25 s: under Kubernetes' default 30 s grace period), so a
   * Redis or database that does not answer cannot keep it running.
   */
  shutdownGraceMs: number;
  /** Bearer token /metrics requires (API, and the gateway's and agent's own ports); unset → open. */
  metricsToken: string | undefined;
  /** Where a separate gateway process serves /metrics (WARDEN_GATEWAY_METRICS_PORT: port or host:port). */
  gatewayMetrics: ListenAddress | undefined;
  /** Where a separate agent process serves /metrics (WARDEN_AGENT_METRICS_PORT: port or host:port). */
  agentMetrics: ListenAddress | undefined;
  /** Catalog events as JSON lines for log shippers: `stdout` or a file path; unset → off. */
  eventsLog: string | undefined;
  /** Webhook deliveries: tries in all, and the first retry's delay (doubled each time). */
  webhookAttempts: number;
  /**
   * Internal networks (CIDRs) webhooks and review notifications may reach
   * (WARDEN_WEBHOOK_ALLOWED_NETWORKS, comma-separated); by default only public addresses.
   */
  webhookAllowedNetworks: string[];
  webhookRetryDelayMs: number;
  /** Catalog events (and their webhook deliveries) older than this many days are deleted; unset → kept. */
  eventRetentionDays: number | undefined;
  /** Lifetime of the access tokens (JWTs) minted at sign-in (WARDEN_ACCESS_TOKEN_TTL, default 8 h). */
  accessTokenTtlSeconds: number;
  /** Absolute lifetime of a sign-in: its refresh tokens stop working after this (default 30 days). */
  refreshTokenTtlSeconds: number;
  /** OpenID Connect sign-in for people; undefined when WARDEN_OIDC_ISSUER is unset. */
  oidc: OidcConfig | undefined;
}

export interface OidcConfig {
  /** Issuer URL; discovery reads `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  /** Unset for public clients (PKCE alone). */
  clientSecret: string | undefined;
  /** Claim (ID token or userinfo) holding the user's group names (default `groups`). */
  groupsClaim: string;
  /** Scopes asked for (default `openid profile email groups`). */
  scopes: string;
  /** Members of any of these provider groups sign in as admins. */
  adminGroups: string[];
}

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function parseListenAddress(value: string, name: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new ConfigError(`${name} must be host:port, got "${value}"`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

function address(env: Env, name: string, fallback: string): ListenAddress {
  return parseListenAddress(env[name] ?? fallback, name);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() ? value.trim() : undefined;
}

function positiveInteger(env: Env, name: string, fallback: number): number {
  return integerAtLeast(env, name, fallback, 1);
}

function nonNegativeInteger(env: Env, name: string, fallback: number): number {
  return integerAtLeast(env, name, fallback, 0);
}

function integerAtLeast(env: Env, name: string, fallback: number, min: 0 | 1): number {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min)
    throw new ConfigError(`${name} must be a ${min ? 'positive' : 'non-negative'} integer, got "${raw}"`);
  return value;
}

/** Seconds, or a number with a unit: `90s`, `30m`, `8h`, `7d`. */
export function parseDuration(raw: string, name: string): number {
  const match = /^(\d+)\s*(s|m|h|d)?$/i.exec(raw.trim());
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  const seconds = match ? Number(match[1]) * units[(match[2] ?? 's').toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1) {
    throw new ConfigError(`${name} must be a duration such as 3600, 30m, 8h or 7d, got "${raw}"`);
  }
  return seconds;
}

function duration(env: Env, name: string, fallback: number): number {
  const raw = nonEmpty(env[name]);
  return raw === undefined ? fallback : parseDuration(raw, name);
}

function oidcConfig(env: Env): OidcConfig | undefined {
  const issuer = nonEmpty(env.WARDEN_OIDC_ISSUER);
  if (!issuer) return undefined;
  const clientId = nonEmpty(env.WARDEN_OIDC_CLIENT_ID);
  if (!clientId) throw new ConfigError('WARDEN_OIDC_CLIENT_ID is required when WARDEN_OIDC_ISSUER is set');
  return {
    issuer,
    clientId,
    clientSecret: nonEmpty(env.WARDEN_OIDC_CLIENT_SECRET),
    groupsClaim: nonEmpty(env.WARDEN_OIDC_GROUPS_CLAIM) ?? 'groups',
    scopes: nonEmpty(env.WARDEN_OIDC_SCOPES) ?? 'openid profile email groups',
    adminGroups: (env.WARDEN_OIDC_ADMIN_GROUPS ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean),
  };
}

/** A port (bound on 0.0.0.0, for scrapers in the cluster) or host:port; unset → undefined. */
function metricsAddress(env: Env, name: string): ListenAddress | undefined {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  return parseListenAddress(/^\d+$/.test(raw) ? `0.0.0.0:${raw}` : raw, name);
}

/** `<host>-<port>` (see WardenConfig.gatewayId); the port is the Postgres listener's, as loadConfig reads it. */
function defaultGatewayId(env: Env): string {
  const host = nonEmpty(env.HOSTNAME) ?? nonEmpty(hostname()) ?? 'gateway';
  const { port } = address(env, 'WARDEN_POSTGRES_ADDR', '127.0.0.1:15432');
  // Port 0 (any free port) says nothing about the replica: nothing stable is left but the process.
  return port ? `${host}-${port}` : `${host}-pid${process.pid}`;
}

export function loadConfig(env: Env = process.env): WardenConfig {
  const api = address(env, 'WARDEN_API_ADDR', '127.0.0.1:8009');
  return {
    dataDir: path.resolve(env.WARDEN_DATA_DIR ?? '.data'),
    databaseUrl: nonEmpty(env.DATABASE_URL),
    databaseConnectTimeoutMs: positiveInteger(env, 'WARDEN_DATABASE_CONNECT_TIMEOUT_MS', 10_000),
    redisUrl: nonEmpty(env.REDIS_URL),
    redisPrefix: nonEmpty(env.WARDEN_REDIS_PREFIX) ?? 'warden',
    api,
    grpc: address(env, 'WARDEN_GRPC_ADDR', '127.0.0.1:8010'),
    postgres: address(env, 'WARDEN_POSTGRES_ADDR', '127.0.0.1:15432'),
    ssh: address(env, 'WARDEN_SSH_ADDR', '127.0.0.1:12222'),
    httpProxy: address(env, 'WARDEN_HTTP_PROXY_ADDR', '127.0.0.1:18888'),
    publicUrl: (env.WARDEN_PUBLIC_URL ?? `http://${api.host}:${api.port}`).replace(/\/+$/, ''),
    secretKey: nonEmpty(env.WARDEN_SECRET_KEY),
    bootstrapAdminKey: nonEmpty(env.BOOTSTRAP_ADMIN_KEY),
    gatewayId: nonEmpty(env.WARDEN_GATEWAY_ID) ?? defaultGatewayId(env),
    logLevel: nonEmpty(env.LOG_LEVEL) ?? 'info',
    tlsCertFile: nonEmpty(env.WARDEN_TLS_CERT),
    tlsKeyFile: nonEmpty(env.WARDEN_TLS_KEY),
    apiBodyLimit: Number(env.WARDEN_API_BODY_LIMIT ?? 1024 * 1024),
    retentionIntervalMs: positiveInteger(env, 'WARDEN_RETENTION_INTERVAL_MS', 60 * 60 * 1000),
    agentPresenceIntervalMs: positiveInteger(env, 'WARDEN_AGENT_PRESENCE_INTERVAL_MS', 30_000),
    gatewayPresenceIntervalMs: positiveInteger(
      env,
      'WARDEN_GATEWAY_PRESENCE_INTERVAL_MS',
      positiveInteger(env, 'WARDEN_AGENT_PRESENCE_INTERVAL_MS', 30_000),
    ),
    loginMaxFailures: nonNegativeInteger(env, 'WARDEN_LOGIN_MAX_FAILURES', 20),
    loginLockoutMs: positiveInteger(env, 'WARDEN_LOGIN_LOCKOUT_MS', 60_000),
    maxClientConnections: nonNegativeInteger(env, 'WARDEN_MAX_CLIENT_CONNECTIONS', 10_000),
    maxClientConnectionsPerAddress: nonNegativeInteger(env, 'WARDEN_MAX_CLIENT_CONNECTIONS_PER_ADDRESS', 1000),
    clientMessageBudgetBytes: nonNegativeInteger(env, 'WARDEN_CLIENT_MESSAGE_BUDGET_BYTES', 128 * 1024 * 1024),
    clientStartupTimeoutMs: positiveInteger(env, 'WARDEN_CLIENT_STARTUP_TIMEOUT_MS', 30_000),
    recordingWorker: env.WARDEN_RECORDING_WORKER !== 'off',
    containmentReconcileMs: positiveInteger(env, 'WARDEN_CONTAINMENT_RECONCILE_MS', 2000),
    shutdownGraceMs: positiveInteger(env, 'WARDEN_SHUTDOWN_GRACE_MS', 25_000),
    metricsToken: nonEmpty(env.WARDEN_METRICS_TOKEN),
    gatewayMetrics: metricsAddress(env, 'WARDEN_GATEWAY_METRICS_PORT'),
    agentMetrics: metricsAddress(env, 'WARDEN_AGENT_METRICS_PORT'),
    eventsLog: nonEmpty(env.WARDEN_EVENTS_LOG),
    webhookAttempts: positiveInteger(env, 'WARDEN_WEBHOOK_ATTEMPTS', 8),
    webhookAllowedNetworks: (env.WARDEN_WEBHOOK_ALLOWED_NETWORKS ?? '')
      .split(',')
      .map((network) => network.trim())
      .filter(Boolean),
    webhookRetryDelayMs: positiveInteger(env, 'WARDEN_WEBHOOK_RETRY_DELAY_MS', 10_000),
    eventRetentionDays: env.WARDEN_EVENT_RETENTION_DAYS?.trim()
      ? positiveInteger(env, 'WARDEN_EVENT_RETENTION_DAYS', 1)
      : undefined,
    accessTokenTtlSeconds: duration(env, 'WARDEN_ACCESS_TOKEN_TTL', 8 * 3600),
    refreshTokenTtlSeconds: duration(env, 'WARDEN_REFRESH_TOKEN_TTL', 30 * 86400),
    oidc: oidcConfig(env),
  };
}
