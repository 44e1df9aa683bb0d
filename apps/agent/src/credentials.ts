import { readFile } from 'node:fs/promises';

import type { SecretSource } from '@warden/proto';

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
    if (value === undefined)
      throw new CredentialError(`agent environment has no ${name} (referenced as ${secret.ref})`);
    return value;
  }
  const file = secret.ref.replace(/^file:/, '');
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch {
    throw new CredentialError(`agent cannot read ${secret.ref}`);
  }
}
