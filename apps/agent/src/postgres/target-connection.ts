import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { CredentialError, resolveSecret } from '../credentials.js';
import { AUTH_REFUSED, authPolicy, enforceAuthPolicy, type AuthPolicy } from './target-auth.js';
import type { PostgresSessionOpen, SslMode } from '@warden/proto';

/** Result of a successful login to the target, before any client traffic. */
export interface TargetConnection {
  /** The raw (possibly TLS) socket, detached from the driver, ready to relay. */
  socket: Duplex;
  parameters: Map<string, string>;
  processId: number;
  secretKey: number;
  tls: boolean;
}

/**
 * Why the target could not be reached, worded so that it names neither host, user
 * nor password: the message travels to the client.
 */
export class TargetError extends Error {
  override name = 'TargetError';
  constructor(
    message: string,
    readonly sqlstate: string,
  ) {
    super(message);
  }
}

// Startup keys Postgres itself reads (exact spelling, as its ProcessStartupPacket compares them):
// who the agent logs in as and where are the connection's, never the client's, and replication
// startups are refused at the gateway. Every other key reaches the target as the client sent it.
const CONNECTION_KEYS = new Set(['user', 'database', 'replication']);

/**
 * The startup parameters the target session starts with: the client's, as sent, except the
 * connection's own keys and `_pq_.` protocol options (the gateway answers those itself, with
 * NegotiateProtocolVersion), and with each pin in place of any spelling of it the client used
 * (the gateway refused a client asking for another value, so only the spelling changes).
 */
export function targetStartupParameters(
  request: Pick<PostgresSessionOpen, 'startup' | 'pins'>,
): Record<string, string> {
  const pins = request.pins ?? {};
  const pinned = new Set(Object.keys(pins).map((name) => name.toLowerCase()));
  const parameters: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.startup)) {
    if (CONNECTION_KEYS.has(name) || name.startsWith('_pq_.') || pinned.has(name.toLowerCase())) continue;
    parameters[name] = value;
  }
  return { ...parameters, ...pins };
}

async function tlsOptions(
  mode: SslMode,
  host: string,
  rootCert: string | undefined,
): Promise<false | ConnectionOptions> {
  if (mode === 'disable') return false;
  if (mode !== 'verify-full') return { rejectUnauthorized: false };
  let ca = rootCert;
  if (rootCert?.startsWith('file:')) {
    try {
      ca = await readFile(rootCert.slice(5), 'utf8');
    } catch {
      throw new CredentialError(`agent cannot read the sslrootcert ${rootCert}`);
    }
  }
  return { rejectUnauthorized: true, servername: net.isIP(host) ? undefined : host, ...(ca ? { ca } : {}) };
}

/**
 * Logs in to the target with node-postgres (trust, cleartext, MD5, SCRAM-SHA-256
 * with channel binding when offered, TLS per sslmode), then takes over its socket:
 * from ReadyForQuery on, bytes are relayed untouched. The methods the target may ask
 * for are the connection's require_auth, or by default any with sslmode verify-full
 * and only SCRAM-SHA-256 or none otherwise (target-auth.ts).
 */
export interface ConnectTargetOptions {
  timeoutMs?: number;
  /** Runs on the logged-in driver before the socket is taken over (e.g. catalog lookups for masking). */
  beforeTakeover?: (client: pg.Client) => Promise<void>;
}

export async function connectTarget(
  request: PostgresSessionOpen,
  options: ConnectTargetOptions = {},
): Promise<TargetConnection> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { target } = request;
  const attempt = async (ssl: false | ConnectionOptions, password: string | undefined, policy: AuthPolicy) => {
    const startup = targetStartupParameters(request);
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      // A function, never a bare string: node-postgres treats '' as "not set" and
      // would fall back to the agent's own PGPASSWORD or ~/.pgpass.
      password: () => password ?? '',
      ssl,
      enableChannelBinding: ssl !== false,
      connectionTimeoutMillis: timeoutMs,
    });
    const parameters = new Map<string, string>();
    const connection = (client as unknown as { connection: DriverConnection }).connection;
    enforceAuthPolicy(connection, policy);
    // node-postgres sends only the few startup parameters it knows (getStartupConf), and its
    // serializer appends client_encoding=UTF8 after them. Replacing startup() on this instance's
    // connection (called once the socket, TLS or not, is up) sends exactly the client's
    // parameters, so statement_timeout, TimeZone, client_encoding, any GUC, arrive as asked.
    connection.startup = () =>
      connection.stream.write(startupMessage({ user: target.user, database: target.database, ...startup }));
    connection.on('parameterStatus', (msg: { parameterName: string; parameterValue: string }) => {
      parameters.set(msg.parameterName, msg.parameterValue);
    });
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      throw Object.assign(error as Error, { overTls: ssl !== false });
    }
    if (options.beforeTakeover) {
      try {
        await inSafeSettings(client, options.beforeTakeover);
      } catch (error) {
        await client.end().catch(() => {});
        throw Object.assign(new Error('the agent could not prepare the session on the target'), {
          cause: error,
          code: 'PREPARE',
        });
      }
    }
    const socket = connection.stream;
    // Hand the socket over: the driver must not parse or answer anything any more.
    for (const event of ['data', 'end', 'close', 'error', 'readable']) socket.removeAllListeners(event);
    connection.removeAllListeners();
    const raw = client as unknown as { processID: number; secretKey: number };
    return { socket, parameters, processId: raw.processID, secretKey: raw.secretKey, tls: ssl !== false };
  };

  try {
    // Inside the try: a missing env:/file: reference is reported by name, like any other failure.
    const policy = authPolicy(target);
    const password = await resolveSecret(target.password);
    const ssl = await tlsOptions(target.sslmode, target.host, target.sslrootcert);
    try {
      return await attempt(ssl, password, policy);
    } catch (error) {
      // sslmode=prefer falls back to a plain connection, as libpq does, when the
      // server has no TLS or its pg_hba.conf refuses this connection over TLS.
      const message = String((error as Error).message);
      if (target.sslmode === 'prefer' && (/does not support SSL/i.test(message) || NO_HBA_ENTRY.test(message))) {
        return await attempt(false, password, policy);
      }
      throw error;
    }
  } catch (error) {
    throw describeFailure(error, target);
  }
}

/** The driver's connection object, as far as the agent reaches into it. */
type DriverConnection = NodeJS.EventEmitter & { stream: Duplex; startup: () => void };

/** A protocol 3.0 StartupMessage carrying exactly `parameters` (values cannot hold NUL: they came as C strings). */
export function startupMessage(parameters: Record<string, string>): Buffer {
  const body = Buffer.concat([
    ...Object.entries(parameters).map(([name, value]) => Buffer.from(`${name}\0${value}\0`, 'utf8')),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(0x00030000, 4);
  return Buffer.concat([head, body]);
}

/**
 * Runs the agent's own lookups (catalog reads for masking and policy) in a transaction whose
 * settings the client cannot have chosen: the client's startup parameters are the session's now,
 * and its statement_timeout must not cut the lookups short, nor its search_path redirect an
 * unqualified catalog name to a table of its own, nor a `role` it set make the login role's
 * facts those of another. SET LOCAL ends with the transaction, so the client then finds its
 * session exactly as it asked for it.
 */
async function inSafeSettings(client: pg.Client, lookups: (client: pg.Client) => Promise<void>): Promise<void> {
  await client.query(
    'BEGIN; SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; ' +
      'SET LOCAL idle_in_transaction_session_timeout = 0; SET LOCAL search_path = pg_catalog, pg_temp; ' +
      'SET LOCAL SESSION AUTHORIZATION DEFAULT; SET LOCAL ROLE NONE',
  );
  await lookups(client);
  await client.query('COMMIT');
}

const NO_HBA_ENTRY = /no pg_hba\.conf entry|pg_hba\.conf rejects connection/i;

/**
 * Maps a driver, TLS or server error to a TargetError. The original message names
 * host, user and database (e.g. pg_hba.conf rejections), so it is never passed on.
 */
function describeFailure(error: unknown, target: PostgresSessionOpen['target']): TargetError {
  if (error instanceof TargetError) return error;
  if (error instanceof CredentialError) return new TargetError(error.message, '08001');
  const err = error as { code?: string; message?: string; overTls?: boolean };
  const code = err.code ?? '';
  const message = err.message ?? '';
  // Written by target-auth.ts to name the method only.
  if (code === AUTH_REFUSED) return new TargetError(message, '08001');
  if (NO_HBA_ENTRY.test(message)) {
    return new TargetError(
      err.overTls
        ? "the target's pg_hba.conf does not allow this connection over TLS"
        : "the target's pg_hba.conf does not allow this connection without TLS; it may require TLS (sslmode require or verify-full)",
      '08001',
    );
  }
  if (/channel binding/i.test(message)) {
    return new TargetError(
      'SCRAM channel binding with the target failed: something between the agent and the target terminates TLS',
      '08001',
    );
  }
  if (code === '28P01' || code === '28000') {
    return new TargetError("the target rejected the agent's credentials for this connection", '08001');
  }
  if (/client password must be a (non-empty )?string/.test(message)) {
    return new TargetError('the target asks for a password, but the connection has none', '08001');
  }
  if (code === '3D000') return new TargetError('the target database does not exist', '08001');
  if (code === '53300') return new TargetError('the target has too many connections', '53300');
  if (
    code === 'ECONNREFUSED' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENOTFOUND' ||
    code === 'ETIMEDOUT' ||
    code === 'EAI_AGAIN'
  ) {
    return new TargetError(`the target is unreachable from the agent (${code})`, '08001');
  }
  if (/timeout/i.test(message)) return new TargetError('the target did not answer in time', '08001');
  if (/does not support SSL/i.test(message))
    return new TargetError('the target does not support TLS, but the connection requires it', '08001');
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new TargetError("the target's TLS certificate does not match its host name (sslmode verify-full)", '08001');
  }
  if (/certificate|self.signed|CERT_|hostname/i.test(`${code} ${message}`)) {
    const against = target.sslrootcert ? 'sslrootcert' : "the agent's trusted CAs";
    const reason = /^[A-Z0-9_]+$/.test(code) ? ` (${code})` : '';
    return new TargetError(`the target's TLS certificate could not be verified against ${against}${reason}`, '08001');
  }
  return new TargetError('the agent could not connect to the target', '08001');
}

/** Sends a CancelRequest for a backend on a fresh connection, as libpq does. */
export async function cancelOnTarget(host: string, port: number, processId: number, secretKey: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host, port }, () => {
      socket.end(serialize.cancel(processId, secretKey));
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('cancel timed out')));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}
