import { createHash } from 'node:crypto';

/** Key types the gateway verifies signatures of (ssh2). */
export const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
] as const;

export type ParsedPublicKey =
  | { ok: true; type: string; blob: Buffer; fingerprint: string; normalized: string; comment: string | undefined }
  | { ok: false; message: string };

/**
 * Reads one OpenSSH public key line (`<type> <base64> [comment]`, as in
 * ~/.ssh/id_ed25519.pub): the type must be one the gateway verifies and match the
 * type inside the key blob. The fingerprint is what `ssh-keygen -lf` prints.
 */
export function parsePublicKey(line: string): ParsedPublicKey {
  const fields = line.trim().split(/\s+/);
  const [type, data] = fields;
  if (!type || !data) return { ok: false, message: 'must be an OpenSSH public key line: "<type> <base64> [comment]"' };
  if (!(SSH_KEY_TYPES as readonly string[]).includes(type)) {
    return { ok: false, message: `key type "${type.slice(0, 40)}" is not supported (${SSH_KEY_TYPES.join(', ')})` };
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return { ok: false, message: 'the key data is not base64' };
  const blob = Buffer.from(data, 'base64');
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (length < 0 || 4 + length > blob.length || blob.toString('latin1', 4, 4 + length) !== type) {
    return { ok: false, message: `the key data is not a ${type} key` };
  }
  if (blob.length < 4 + length + 16) return { ok: false, message: 'the key data is truncated' };
  const fingerprint = 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  const comment = fields.slice(2).join(' ') || undefined;
  return { ok: true, type, blob, fingerprint, normalized: `${type} ${blob.toString('base64')}`, comment };
}
