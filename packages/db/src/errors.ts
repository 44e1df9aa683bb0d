/**
 * Whether an error means the control-plane database could not be used at all (unreachable, closed
 * the connection, refused it, timed out), as opposed to a query the database answered with an
 * error. Callers facing clients answer such errors with a generic "try again" and log the detail:
 * Prisma's messages name the source file, quote its code and give the database's host and port.
 *
 * What reaches callers, by layer (Prisma 7 with @prisma/adapter-pg, node-postgres):
 * - PrismaClientKnownRequestError with a P1xxx code (P1001 "Can't reach database server", P1017
 *   "Server has closed the connection"...), P2024 (pool timeout) or P2037 (too many connections);
 * - PrismaClientInitializationError;
 * - the driver's own errors, passed through as they are: a Postgres ErrorResponse of class 08, 57P0x
 *   (terminated, shutting down, starting up) or 53300, a failed connect (ECONNREFUSED...), or
 *   node-postgres' plain `Error`s ("Connection terminated unexpectedly", "... due to connection timeout").
 */
export function isControlPlaneUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if (isUnavailable(e as ErrorLike)) return true;
    e = (e as ErrorLike).cause;
  }
  return false;
}

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  syscall?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } };
}

/** Prisma's codes for a database it could not use (P1xxx: connection, authentication, timeouts). */
const PRISMA_UNAVAILABLE = /^(P10\d\d|P2024|P2037)$/;
/** SQLSTATEs of a server that cannot serve: connection exceptions, shutdown and start-up, too many connections. */
const SQLSTATE_UNAVAILABLE = /^(08...|57P0[1-4]|53300)$/;
/**
 * Failures to open a connection (syscall connect or getaddrinfo): a reset on a socket that was
 * already open may as well be a client's, so it is not taken for the database's.
 */
const CONNECT_SYSCALLS = new Set(['connect', 'getaddrinfo']);
/** @prisma/adapter-pg's kinds for the same situations (DriverAdapterError.cause.kind). */
const ADAPTER_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TlsConnectionError',
  'TooManyConnections',
  'DatabaseDoesNotExist',
  'DatabaseAccessDenied',
  'AuthenticationFailed',
]);
/** node-postgres and pg-pool throw these as plain Errors, without a code. */
const DRIVER_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end)/;

function isUnavailable(e: ErrorLike): boolean {
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  if (name === 'PrismaClientInitializationError') return true;
  if (name === 'PrismaClientKnownRequestError' && PRISMA_UNAVAILABLE.test(code)) return true;
  const adapter = e.meta?.driverAdapterError?.cause;
  if (adapter && typeof adapter.kind === 'string' && ADAPTER_KINDS.has(adapter.kind)) return true;
  if (adapter?.kind === 'postgres' && typeof adapter.code === 'string' && SQLSTATE_UNAVAILABLE.test(adapter.code))
    return true;
  if (name === 'DriverAdapterError') {
    const kind = (e.cause as { kind?: unknown } | undefined)?.kind;
    if (typeof kind === 'string' && ADAPTER_KINDS.has(kind)) return true;
  }
  // A Postgres ErrorResponse (node-postgres' DatabaseError) carries its severity.
  if (SQLSTATE_UNAVAILABLE.test(code) && 'severity' in e) return true;
  if (typeof e.syscall === 'string' && CONNECT_SYSCALLS.has(e.syscall) && /^E[A-Z_]+$/.test(code)) return true;
  return typeof e.message === 'string' && DRIVER_MESSAGES.test(e.message);
}
