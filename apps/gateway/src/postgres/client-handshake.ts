import type { SecureContextOptions } from 'node:tls';
import {
  authenticateToken,
  authFailureMessages,
  canUseConnection,
  type LoginThrottle,
  type AuthFailureReason,
  type Principal,
} from '@warden/access';
import type { PrismaClient } from '@warden/db';
import { activeGrant, connectionRequiresGrant } from '@warden/reviews';
import { BackendSerializer, decodePassword, ProtocolViolation, SqlState } from '@warden/pg-wire';
import type { ConnectionTargets, ConnectionWithAgent } from '../connection-targets.js';
import type { ClientChannel } from './client-channel.js';
import { isReplicationRequest } from './startup-parameters.js';

/** Default of WARDEN_CLIENT_STARTUP_TIMEOUT_MS. */
const STARTUP_TIMEOUT_MS = 30_000;

export type HandshakeOutcome =
  | {
      kind: 'session';
      channel: ClientChannel;
      principal: Principal;
      connection: ConnectionWithAgent;
      startup: Record<string, string>;
      /** The access grant that let the client in, when the connection requires one. */
      grant?: { id: string; endsAt: Date };
    }
  | { kind: 'cancel'; processId: number; secretKey: number }
  /** The client left before its startup packet (a Terminate, or a close): closed without a word, as the server does. */
  | { kind: 'quit' }
  | {
      kind: 'refused';
      code: string;
      message: string;
      hint?: string;
      /** The precise reason a token was refused (forged, wrong_audience...), for the log only. */
      authFailure?: AuthFailureReason;
    };

export interface HandshakeDeps {
  prisma: PrismaClient;
  targets: ConnectionTargets;
  tls: SecureContextOptions;
  /** Failed logins per client address (shared with the SSH listener). */
  logins: LoginThrottle;
  /** From connecting to authenticated, TLS included (WARDEN_CLIENT_STARTUP_TIMEOUT_MS; default 30 s). */
  startupTimeoutMs?: number;
}

/**
 * The startup phase on the client side: TLS if asked, GSS encryption declined, then
 * a cleartext password exchange whose password is the caller's token (the only
 * secret the client has; use sslmode=require outside loopback). The token decides
 * the identity; the database name picks the connection.
 */
export async function clientHandshake(channel: ClientChannel, deps: HandshakeDeps): Promise<HandshakeOutcome> {
  // One deadline for the whole startup (as Postgres' authentication_timeout), TLS included.
  const deadline = Date.now() + (deps.startupTimeoutMs ?? STARTUP_TIMEOUT_MS);
  for (;;) {
    let message;
    try {
      message = await channel.next(deadline - Date.now());
    } catch (error) {
      // A close before the startup packet (port scanners, health checks, a client declining our
      // TLS answer) is no error: the server does not even log it. Violations and timeouts are.
      if (error instanceof ProtocolViolation) throw error;
      return { kind: 'quit' };
    }
    switch (message.kind) {
      case 'sslRequest':
        if (channel.tls) throw new ProtocolViolation('SSLRequest received twice');
        await channel.upgradeToTls(deps.tls, deadline - Date.now());
        continue;
      case 'gssEncRequest':
        channel.socket.write(BackendSerializer.sslResponse(false));
        continue;
      case 'cancelRequest':
        return { kind: 'cancel', processId: message.processId, secretKey: message.secretKey };
      case 'terminate':
        return { kind: 'quit' };
      case 'startup':
        return authenticate(channel, message.protocolVersion, message.parameters, deps, deadline);
      default:
        throw new ProtocolViolation(`unexpected ${message.kind} message before startup`);
    }
  }
}

/**
 * The startup of a client that is refused before anything of it is looked at (a connection cap):
 * TLS if it asks, so that the refusal reaches a client that requires TLS as an ErrorResponse it
 * displays, then its startup packet, which is not read further. A cancel request is returned: a
 * full gateway must not keep anyone from cancelling a running query. Rejects on a violation or
 * once `timeoutMs` has passed.
 */
export async function startupToRefuse(
  channel: ClientChannel,
  tls: SecureContextOptions,
  timeoutMs: number,
): Promise<{ kind: 'startup' } | { kind: 'cancel'; processId: number; secretKey: number } | { kind: 'quit' }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const message = await channel.next(deadline - Date.now());
    switch (message.kind) {
      case 'sslRequest':
        if (channel.tls) throw new ProtocolViolation('SSLRequest received twice');
        await channel.upgradeToTls(tls, deadline - Date.now());
        continue;
      case 'gssEncRequest':
        channel.socket.write(BackendSerializer.sslResponse(false));
        continue;
      case 'cancelRequest':
        return { kind: 'cancel', processId: message.processId, secretKey: message.secretKey };
      case 'startup':
        return { kind: 'startup' };
      default:
        return { kind: 'quit' };
    }
  }
}

async function authenticate(
  channel: ClientChannel,
  protocolVersion: number,
  parameters: Record<string, string>,
  deps: HandshakeDeps,
  deadline: number,
): Promise<HandshakeOutcome> {
  if (protocolVersion >> 16 !== 3) {
    return {
      kind: 'refused',
      code: SqlState.PROTOCOL_VIOLATION,
      message: `unsupported frontend protocol ${protocolVersion >> 16}.${protocolVersion & 0xffff}`,
    };
  }
  const connectionName = parameters.database ?? parameters.user ?? '';
  if (parameters.replication !== undefined && isReplicationRequest(parameters.replication)) {
    return {
      kind: 'refused',
      code: SqlState.INSUFFICIENT_PRIVILEGE,
      message: 'replication connections are not supported through Warden',
    };
  }

  const address = channel.socket.remoteAddress;
  const lockedFor = deps.logins.retryAfter(address);
  if (lockedFor > 0) return lockedOut(lockedFor);

  // As the server: a newer minor version or `_pq_.` protocol options are answered with the
  // version and options actually spoken (3.0, none), before authentication.
  const protocolOptions = Object.keys(parameters).filter((name) => name.startsWith('_pq_.'));
  if ((protocolVersion & 0xffff) > 0 || protocolOptions.length) {
    channel.socket.write(BackendSerializer.negotiateProtocolVersion(0, protocolOptions));
  }
  channel.socket.write(BackendSerializer.authenticationCleartextPassword());
  const response = await channel.next(deadline - Date.now());
  if (response.kind !== 'authResponse')
    throw new ProtocolViolation(`expected a password message, got ${response.kind}`);
  const token = decodePassword(response);
  const auth = await authenticateToken(deps.prisma, token);
  if (!auth.ok) {
    deps.logins.failed(address);
    return {
      kind: 'refused',
      code: SqlState.INVALID_PASSWORD,
      message: `password authentication failed: ${authFailureMessages[auth.reason]}`,
      hint: 'The password is your Warden token (an API key or access token).',
      authFailure: auth.reason,
    };
  }
  const connection = await deps.targets.find(connectionName);
  if (!connection || connection.type !== 'postgres') {
    return {
      kind: 'refused',
      code: SqlState.INVALID_CATALOG_NAME,
      message: `connection "${connectionName}" does not exist`,
    };
  }
  if (!canUseConnection(auth.principal, connection)) {
    return {
      kind: 'refused',
      code: SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
      message: `${auth.principal.name} is not allowed to use connection "${connection.name}"`,
    };
  }
  const base = { kind: 'session', channel, principal: auth.principal, connection, startup: { ...parameters } } as const;
  if (!connectionRequiresGrant(connection)) return base;
  const grant = await activeGrant(deps.prisma, auth.principal.identityId, connection.id);
  if (!grant) {
    return {
      kind: 'refused',
      code: SqlState.INSUFFICIENT_PRIVILEGE,
      message: `connection "${connection.name}" needs approved, time-boxed access and ${auth.principal.name} has none active`,
      hint: `ask for it with POST /api/access-requests {"connection": "${connection.name}", "durationSeconds": 3600, "justification": "..."}`,
    };
  }
  return { ...base, grant: { id: grant.id, endsAt: grant.endsAt } };
}

/** The address failed too many logins: refused before any token is read or looked up. */
function lockedOut(retryAfterMs: number): HandshakeOutcome {
  return {
    kind: 'refused',
    code: SqlState.INVALID_AUTHORIZATION_SPECIFICATION,
    message: `too many failed logins from this address; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
  };
}
