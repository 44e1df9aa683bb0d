import ssh2 from 'ssh2';
import type { AuthContext } from 'ssh2';
import {
  authenticateToken,
  authFailureMessages,
  canUseConnection,
  principalOf,
  withGroups,
  type Principal,
} from '@warden/access';
import type { PrismaClient } from '@warden/db';
import { activeGrant, connectionRequiresGrant } from '@warden/reviews';
import type { ConnectionTargets, ConnectionWithAgent } from '../connection-targets.js';
import { sha256Fingerprint } from './host-key.js';

/**
 * The SSH username says which connection to open, optionally with the identity:
 * `<connection>` or `<identity>+<connection>`. Connection names cannot contain `+`,
 * so the last `+` separates them. The credential (token or registered key) decides
 * the identity; a named identity must be that identity.
 */
export function parseSshUsername(username: string): { identity?: string; connection: string } {
  const at = username.lastIndexOf('+');
  if (at < 0) return { connection: username };
  return { identity: username.slice(0, at), connection: username.slice(at + 1) };
}

export type SshAuthOutcome =
  | { kind: 'accepted'; principal: Principal; method: 'token' | 'publickey' }
  /** Public key query (no signature yet): the key is registered, the client may sign. */
  | { kind: 'key-ok' }
  | { kind: 'rejected'; reason: string };

/** The caller's token as the password (or keyboard-interactive answer). */
export async function authenticateWithToken(prisma: PrismaClient, token: string): Promise<SshAuthOutcome> {
  const auth = await authenticateToken(prisma, token);
  if (!auth.ok) return { kind: 'rejected', reason: authFailureMessages[auth.reason] };
  return { kind: 'accepted', principal: auth.principal, method: 'token' };
}

/**
 * A public key registered to an identity (POST /api/ssh-keys). Its fingerprint is
 * unique, so it names the identity; the identity's state is checked as
 * authenticateToken checks it for tokens (disabled and blocked identities are refused).
 */
export async function authenticateWithKey(
  prisma: PrismaClient,
  ctx: Extract<AuthContext, { method: 'publickey' }>,
): Promise<SshAuthOutcome> {
  const fingerprint = sha256Fingerprint(ctx.key.data);
  const registered = await prisma.sshPublicKey.findUnique({
    where: { fingerprint },
    include: { identity: { include: withGroups } },
  });
  if (!registered) return { kind: 'rejected', reason: 'the key is not registered to any identity' };
  const parsed = ssh2.utils.parseKey(registered.publicKey);
  if (parsed instanceof Error || parsed.type !== ctx.key.algo || !parsed.getPublicSSH().equals(ctx.key.data)) {
    return { kind: 'rejected', reason: 'the key does not match its registration' };
  }
  if (!ctx.signature) return { kind: 'key-ok' };
  if (!ctx.blob || parsed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true) {
    return { kind: 'rejected', reason: 'the key signature is not valid' };
  }
  const result = principalOf(registered.identity, { sshKeyId: registered.id });
  if (!result.ok) return { kind: 'rejected', reason: authFailureMessages[result.reason] };
  return { kind: 'accepted', method: 'publickey', principal: result.principal };
}

export type SshAuthorization =
  { ok: true; connection: ConnectionWithAgent; grant?: { id: string; endsAt: Date } } | { ok: false; message: string };

/** Whether the authenticated identity may open the connection its username names (as the Postgres handshake decides). */
export async function authorizeConnection(
  prisma: PrismaClient,
  targets: ConnectionTargets,
  principal: Principal,
  username: string,
): Promise<SshAuthorization> {
  // Postgres cannot compare text with NUL: the lookup below would fail, and the client learn nothing.
  if (username.includes('\u0000')) {
    return { ok: false, message: 'the username contains a NUL character; use <connection> or <identity>+<connection>' };
  }
  const { identity, connection: name } = parseSshUsername(username);
  if (identity !== undefined && identity !== principal.name) {
    return {
      ok: false,
      message: `the username names identity "${identity}" but the credential is ${principal.name}'s`,
    };
  }
  const connection = await targets.find(name);
  if (!connection || connection.type !== 'ssh') return { ok: false, message: `connection "${name}" does not exist` };
  if (!canUseConnection(principal, connection)) {
    return { ok: false, message: `${principal.name} is not allowed to use connection "${connection.name}"` };
  }
  if (!connectionRequiresGrant(connection)) return { ok: true, connection };
  const grant = await activeGrant(prisma, principal.identityId, connection.id);
  if (!grant) {
    return {
      ok: false,
      message:
        `connection "${connection.name}" needs approved, time-boxed access and ${principal.name} has none active; ` +
        `ask for it with POST /api/access-requests {"connection": "${connection.name}", "durationSeconds": 3600, "justification": "..."}`,
    };
  }
  return { ok: true, connection, grant: { id: grant.id, endsAt: grant.endsAt } };
}
