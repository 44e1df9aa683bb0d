import type { Duplex } from 'node:stream';
import {
  parseRequireAuth,
  TARGET_AUTH_METHODS,
  UNVERIFIED_TLS_DEFAULT,
  type PostgresTarget,
  type TargetAuthMethod,
} from '@warden/proto';

/**
 * Which authentication methods the agent lets a target ask for (libpq's `require_auth`):
 * the connection's own list, or by default any method when TLS to the target is verified
 * (sslmode verify-full) and only SCRAM-SHA-256 or none when it is not.
 */
export interface AuthPolicy {
  allowed: ReadonlySet<TargetAuthMethod>;
  /** The connection set require_auth (rather than the sslmode default applying). */
  explicit: boolean;
  sslmode: PostgresTarget['sslmode'];
}

/** The code a refusal carries until target-connection.ts turns it into a TargetError. */
export const AUTH_REFUSED = 'WARDEN_REQUIRE_AUTH';

/** A refusal: its message names the method, never the host, user or password. */
export class AuthPolicyError extends Error {
  override name = 'AuthPolicyError';
  readonly code = AUTH_REFUSED;
}

export function authPolicy(target: Pick<PostgresTarget, 'sslmode' | 'requireAuth'>): AuthPolicy {
  if (target.requireAuth !== undefined) {
    const parsed = parseRequireAuth(target.requireAuth);
    // The API validated it; an unreadable list (another version) fails closed.
    if (!parsed.ok) throw new AuthPolicyError(`the connection's require_auth is not valid: ${parsed.error}`);
    return { allowed: new Set(parsed.allowed), explicit: true, sslmode: target.sslmode };
  }
  const allowed = target.sslmode === 'verify-full' ? TARGET_AUTH_METHODS : UNVERIFIED_TLS_DEFAULT;
  return { allowed: new Set(allowed), explicit: false, sslmode: target.sslmode };
}

const ASKED_FOR: Record<TargetAuthMethod, string> = {
  password: 'asked for a cleartext password',
  md5: 'asked for an MD5 password hash',
  'scram-sha-256': 'asked for SCRAM-SHA-256 authentication',
  none: 'let the agent in without authentication',
};

/** Why `method` is refused, for the client: the method, the rule, and how to change it. */
export function refusalMessage(method: TargetAuthMethod, policy: AuthPolicy): string {
  const allowed = TARGET_AUTH_METHODS.filter((m) => policy.allowed.has(m)).join(', ');
  const rule = policy.explicit
    ? `which the connection's require_auth does not allow (allowed: ${allowed})`
    : `which is not allowed without verified TLS (sslmode ${policy.sslmode} allows ${allowed}; ` +
      `set require_auth on the connection to allow "${method}", or use sslmode verify-full)`;
  const sent = method === 'none' ? '' : '; no password was sent';
  return `the target ${ASKED_FOR[method]} (method "${method}"), ${rule}${sent}`;
}

const REQUESTS: Record<string, TargetAuthMethod> = {
  authenticationCleartextPassword: 'password',
  authenticationMD5Password: 'md5',
  authenticationSASL: 'scram-sha-256',
};

/**
 * Holds node-postgres to `policy` while it logs in: each authentication request the target
 * sends is checked before the driver sees it (so a refused one never reaches the code that
 * sends the password), and AuthenticationOk is checked against what was actually done, as
 * libpq does: the target letting the agent in without asking needs `none`, and ending a SCRAM
 * exchange without its final message (the server's proof that it knows the password) is
 * refused outright. A refusal fails the connect and closes the socket.
 */
export function enforceAuthPolicy(connection: NodeJS.EventEmitter & { stream: Duplex }, policy: AuthPolicy): void {
  const emit = connection.emit.bind(connection);
  let refused = false;
  let scram: 'no' | 'started' | 'finished' = 'no';
  let passwordSent = false;
  const refuse = (message: string): boolean => {
    refused = true;
    emit('error', new AuthPolicyError(message));
    connection.stream.destroy();
    return true;
  };
  connection.emit = (event: string | symbol, ...args: unknown[]): boolean => {
    // Whatever else the target had queued behind the refused request goes nowhere.
    if (refused) return event === 'end' ? emit(event, ...args) : false;
    const method = typeof event === 'string' ? REQUESTS[event] : undefined;
    if (method) {
      if (!policy.allowed.has(method)) return refuse(refusalMessage(method, policy));
      if (method === 'scram-sha-256') scram = 'started';
      else passwordSent = true;
    } else if (event === 'authenticationSASLFinal' && scram === 'started') {
      // The driver checks the server signature in it, and fails the connect if it is wrong.
      scram = 'finished';
    } else if (event === 'authenticationOk') {
      if (scram === 'started') {
        return refuse(
          'the target ended SCRAM-SHA-256 authentication without proving that it knows the password: ' +
            'it may not be the real server',
        );
      }
      if (scram === 'no' && !passwordSent && !policy.allowed.has('none')) {
        return refuse(refusalMessage('none', policy));
      }
    }
    return emit(event, ...args);
  };
}
