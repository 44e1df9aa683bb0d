import type { Connection } from '@warden/db';
import type { SshTarget } from '@warden/proto';
import type { ConnectionTargets } from '../connection-targets.js';

/** What a connection's `options.ssh` allows; everything off by default. */
export interface SshOptions {
  allowSftp: boolean;
  allowPortForwarding: boolean;
  allowAgentForwarding: boolean;
  /** Record what the client types (stdin); off by default since keystrokes can be passwords. */
  recordInput: boolean;
}

/** Reads the options leniently: the API validated them on write. */
export function sshOptionsOf(connectionOptions: unknown): SshOptions {
  const raw = (connectionOptions as { ssh?: Partial<Record<keyof SshOptions, unknown>> } | null)?.ssh ?? {};
  return {
    allowSftp: raw.allowSftp === true,
    allowPortForwarding: raw.allowPortForwarding === true,
    allowAgentForwarding: raw.allowAgentForwarding === true,
    recordInput: raw.recordInput === true,
  };
}

/** The connection's SSH target as its agent needs it; stored secrets unsealed only to cross the tunnel. */
export function sshTarget(targets: ConnectionTargets, connection: Connection): SshTarget {
  const config = connection.config as Record<string, unknown>;
  const password = targets.secret(connection, 'password');
  const privateKey = targets.secret(connection, 'privateKey');
  const passphrase = targets.secret(connection, 'passphrase');
  return {
    host: String(config.host),
    port: Number(config.port ?? 22),
    user: String(config.user),
    ...(password ? { password } : {}),
    ...(privateKey ? { privateKey } : {}),
    ...(passphrase ? { passphrase } : {}),
    ...(typeof config.hostKeyFingerprint === 'string' ? { hostKeyFingerprint: config.hostKeyFingerprint } : {}),
    ...(typeof config.knownHosts === 'string' ? { knownHosts: config.knownHosts } : {}),
  };
}
