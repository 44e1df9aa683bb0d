// What the gateway puts in SessionOpen.config for each connection type (JSON). The
// tunnel treats it as opaque bytes; gateway and agent share these shapes.

import type { SshChannelRequest, SshPty } from './ssh-channel.js';

/**
 * How a secret reaches the agent: a reference the agent resolves from its own
 * environment or filesystem (the control plane never sees the value), or a value
 * the control plane stored sealed and unseals only to send over the tunnel.
 */
export type SecretSource = { source: 'env' | 'file'; ref: string } | { source: 'value'; value: string };

export type SslMode = 'disable' | 'prefer' | 'require' | 'verify-full';

export interface PostgresTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  sslmode: SslMode;
  /** PEM of the CA to trust for verify-full, or a `file:` reference. */
  sslrootcert?: string;
  password?: SecretSource;
  /**
   * Which authentication methods the target may ask for, as libpq's `require_auth`
   * (require-auth.ts): e.g. `scram-sha-256`, `md5,scram-sha-256`, `!password`. Absent:
   * any method with sslmode verify-full, else only SCRAM-SHA-256 or none. An agent that
   * predates this field ignores it.
   */
  requireAuth?: string;
}

/**
 * What the agent masks in this session's results (decided by policy at the gateway,
 * applied inside the customer network). Strategy and detector ids are those of
 * @warden/masking.
 */
export interface SessionMasking {
  /** `schema.table.column` rules; the agent resolves them to table OID + attnum in the catalog. */
  columns: { column: string; strategy: string }[];
  /** Value detector id → strategy id; absent detectors are off. */
  detectors: Record<string, string>;
  /** Key of the deterministic `hash` strategy (base64), stable per connection so joins still work. */
  hashKey: string;
}

/** Open a Postgres session: log in to the target, then relay the client's messages. */
export interface PostgresSessionOpen {
  kind: 'postgres';
  connection: string;
  target: PostgresTarget;
  /**
   * Startup parameters the client sent, as sent (user, database and replication are the
   * connection's and are never passed on). The agent starts the target session with the rest.
   */
  startup: Record<string, string>;
  /**
   * Settings the target session must start with whatever the client sent (the lexing pins of a
   * guarded connection, see LEXING_PINS in @warden/policy). The gateway has already refused a
   * client asking for another value; the agent sends these in place of the client's spelling.
   */
  pins?: Record<string, string>;
  /** Absent or empty: results pass through untouched. */
  masking?: SessionMasking;
  /**
   * Set on guarded connections: before relaying anything, the agent reads the target role's
   * attributes and the catalog facts policy needs, and sends them as a "facts" Report before
   * SessionOpened (session-reports.ts). An agent that predates this ignores it; the gateway
   * then refuses the session rather than judge it without them.
   */
  facts?: boolean;
}

/** Cancel the running query of a live session (routed to the agent holding it). */
export interface PostgresCancelOpen {
  kind: 'postgres-cancel';
  target: PostgresTarget;
  processId: number;
  secretKey: number;
}

/**
 * An SSH target as the agent reaches it. The host key is verified against the
 * pinned fingerprint or the known_hosts lines; with neither the agent refuses.
 */
export interface SshTarget {
  host: string;
  port: number;
  user: string;
  password?: SecretSource;
  privateKey?: SecretSource;
  passphrase?: SecretSource;
  /** `SHA256:<base64>` as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint?: string;
  /** known_hosts lines (plain or hashed host names). */
  knownHosts?: string;
}

/** Open one SSH session channel on the target: a shell, a command or a subsystem (ssh-channel.ts). */
export interface SshSessionOpen {
  kind: 'ssh';
  connection: string;
  target: SshTarget;
  request: SshChannelRequest;
  /** The client's pty-req, when it asked for a terminal. */
  pty?: SshPty;
  /** Environment the client sent (env requests), already filtered by the gateway. */
  env?: Record<string, string>;
}

export type SessionOpenPayload = PostgresSessionOpen | PostgresCancelOpen | SshSessionOpen;

export function encodeSessionOpen(payload: SessionOpenPayload): Uint8Array {
  return Buffer.from(JSON.stringify(payload));
}

export function decodeSessionOpen(bytes: Uint8Array): SessionOpenPayload {
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as SessionOpenPayload;
}
