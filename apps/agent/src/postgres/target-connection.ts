import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { resolveSecret } from '../credentials.js';
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

// Startup parameters a client may pass through; the rest (user, database,
// replication) are decided by the connection, never by the client.
const PASSTHROUGH_PARAMETERS = new Set([
  'application_name',
  'client_encoding',
  'DateStyle',
  'TimeZone',
  'extra_float_digits',
  'options',
  'search_path',
  'IntervalStyle',
]);

async function tlsOptions(
  mode: SslMode,
  host: string,
  rootCert: string | undefined,
): Promise<false | ConnectionOptions> {
  if (mode === 'disable') return false;
  if (mode !== 'verify-full') return { rejectUnauthorized: false };
  const ca = rootCert?.startsWith('file:') ? await readFile(rootCert.slice(5), 'utf8') : rootCert;
  return { rejectUnauthorized: true, servername: net.isIP(host) ? undefined : host, ...(ca ? { ca } : {}) };
}

/**
 * Logs in to the target with node-postgres (trust, cleartext, MD5, SCRAM-SHA-256
 * with channel binding when offered, TLS per sslmode), then takes over its socket:
 * from ReadyForQuery on, bytes are relayed untouched.
 */
export async function connectTarget(request: PostgresSessionOpen, timeoutMs = 10_000): Promise<TargetConnection> {
  const { target } = request;
  const password = await resolveSecret(target.password);
  const attempt = async (ssl: false | ConnectionOptions) => {
    const startup = Object.fromEntries(Object.entries(request.startup).filter(([k]) => PASSTHROUGH_PARAMETERS.has(k)));
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      password: password ?? '',
      ssl,
      enableChannelBinding: ssl !== false,
      connectionTimeoutMillis: timeoutMs,
      application_name: startup.application_name,
      options: startup.options,
    });
    const parameters = new Map<string, string>();
    const connection = (client as unknown as { connection: NodeJS.EventEmitter & { stream: Duplex } }).connection;
    connection.on('parameterStatus', (msg: { parameterName: string; parameterValue: string }) => {
      parameters.set(msg.parameterName, msg.parameterValue);
    });
    client.on('error', () => {});
    await client.connect();
    const socket = connection.stream;
    // Hand the socket over: the driver must not parse or answer anything any more.
    for (const event of ['data', 'end', 'close', 'error', 'readable']) socket.removeAllListeners(event);
    connection.removeAllListeners();
    const raw = client as unknown as { processID: number; secretKey: number };
    return { socket, parameters, processId: raw.processID, secretKey: raw.secretKey, tls: ssl !== false };
  };

  try {
    const ssl = await tlsOptions(target.sslmode, target.host, target.sslrootcert);
    try {
      return await attempt(ssl);
    } catch (error) {
      // sslmode=prefer: a server without TLS gets a plain connection, as libpq does.
      if (target.sslmode === 'prefer' && /does not support SSL/i.test(String((error as Error).message))) {
        return await attempt(false);
      }
      throw error;
    }
  } catch (error) {
    throw describeFailure(error);
  }
}

function describeFailure(error: unknown): TargetError {
  if (error instanceof TargetError) return error;
  const err = error as { code?: string; message?: string };
  const code = err.code ?? '';
  if (code === '28P01' || code === '28000') {
    return new TargetError("the target rejected the agent's credentials for this connection", '08001');
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
  if (/timeout/i.test(err.message ?? '')) return new TargetError('the target did not answer in time', '08001');
  if (/does not support SSL/i.test(err.message ?? ''))
    return new TargetError('the target does not support TLS, but the connection requires it', '08001');
  if (/certificate|self.signed|CERT_|hostname/i.test(`${code} ${err.message ?? ''}`)) {
    return new TargetError("the target's TLS certificate could not be verified", '08001');
  }
  if (error instanceof Error && error.name === 'CredentialError') return new TargetError(error.message, '08001');
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
