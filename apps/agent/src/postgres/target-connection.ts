import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { CredentialError, resolveSecret } from '../credentials.js';
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
 * from ReadyForQuery on, bytes are relayed untouched.
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
  const attempt = async (ssl: false | ConnectionOptions, password: string | undefined) => {
    const startup = Object.fromEntries(Object.entries(request.startup).filter(([k]) => PASSTHROUGH_PARAMETERS.has(k)));
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
      application_name: startup.application_name,
      options: startup.options,
    });
    const parameters = new Map<string, string>();
    const connection = (client as unknown as { connection: NodeJS.EventEmitter & { stream: Duplex } }).connection;
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
        await options.beforeTakeover(client);
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
    const password = await resolveSecret(target.password);
    const ssl = await tlsOptions(target.sslmode, target.host, target.sslrootcert);
    try {
      return await attempt(ssl, password);
    } catch (error) {
      // sslmode=prefer falls back to a plain connection, as libpq does, when the
      // server has no TLS or its pg_hba.conf refuses this connection over TLS.
      const message = String((error as Error).message);
      if (target.sslmode === 'prefer' && (/does not support SSL/i.test(message) || NO_HBA_ENTRY.test(message))) {
        return await attempt(false, password);
      }
      throw error;
    }
  } catch (error) {
    throw describeFailure(error, target);
  }
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
