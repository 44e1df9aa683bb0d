import { readFile } from 'node:fs/promises';

/**
 * How a secret reaches the agent: a reference the agent resolves from its own
 * environment or filesystem (the control plane never sees the value), or a value
 * the control plane stored sealed and sends unsealed over the tunnel.
 */
export type SecretSource = { source: 'env' | 'file'; ref: string } | { source: 'value'; value: string };

export class CredentialError extends Error {
  override name = 'CredentialError';
}

/** Resolves a secret; errors name the reference, never a value. */
export async function resolveSecret(secret: SecretSource | undefined, env = process.env): Promise<string | undefined> {
  if (!secret) return undefined;
  if (secret.source === 'value') return secret.value;
  if (secret.source === 'env') {
    const name = secret.ref.replace(/^env:/, '');
    const value = env[name];
    if (value === undefined) throw new CredentialError(`agent environment has no ${name} (referenced as ${secret.ref})`);
    return value;
  }
  const file = secret.ref.replace(/^file:/, '');
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch {
    throw new CredentialError(`agent cannot read ${secret.ref}`);
  }
}
