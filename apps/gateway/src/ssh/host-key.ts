import { createHash } from 'node:crypto';
import ssh2 from 'ssh2';
import type { PrismaClient } from '@warden/db';
import type { SecretBox } from '@warden/runtime';

const SETTING_KEY = 'ssh.hostKey';
const SEAL_LABEL = 'ssh-host-key';

interface StoredHostKey {
  algorithm: string;
  /** The private key (OpenSSH format), sealed with the control plane's SecretBox. */
  sealed: string;
  fingerprint: string;
  publicKey: string;
}

export interface GatewayHostKey {
  privateKey: string;
  publicKey: string;
  /** `SHA256:...` as `ssh-keygen -lf` prints it: what clients are told to expect. */
  fingerprint: string;
}

export function sha256Fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

/**
 * The gateway's SSH host key: generated once (Ed25519), sealed and stored in the
 * control plane's Setting table, so every replica and every restart presents the
 * same key and clients' known_hosts stay valid. Two replicas starting together race
 * on the insert; the loser reads the winner's key.
 */
export async function loadHostKey(prisma: PrismaClient, secretBox: SecretBox): Promise<GatewayHostKey> {
  const existing = await prisma.setting.findUnique({ where: { key: SETTING_KEY } });
  if (existing) return unseal(existing.value as unknown as StoredHostKey, secretBox);
  const { pair, parsed } = generateEd25519();
  const stored: StoredHostKey = {
    algorithm: 'ssh-ed25519',
    sealed: secretBox.seal(pair.private, SEAL_LABEL),
    fingerprint: sha256Fingerprint(parsed.getPublicSSH()),
    publicKey: pair.public,
  };
  try {
    await prisma.setting.create({ data: { key: SETTING_KEY, value: stored as never } });
    return unseal(stored, secretBox);
  } catch {
    const winner = await prisma.setting.findUnique({ where: { key: SETTING_KEY } });
    if (!winner) throw new Error('could not store the SSH host key');
    return unseal(winner.value as unknown as StoredHostKey, secretBox);
  }
}

/**
 * A new Ed25519 pair in OpenSSH format, with its parsed public key. ssh2 1.17 writes the 32-byte
 * public key as if it were an integer, dropping a leading zero byte, so about one key in 256
 * comes out malformed and cannot be parsed back (measured: 64 of 20,000). Such a pair is never
 * stored: another is generated.
 */
export function generateEd25519(): { pair: { public: string; private: string }; parsed: ssh2.ParsedKey } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    const parsed = ssh2.utils.parseKey(pair.public);
    if (!(parsed instanceof Error) && !(ssh2.utils.parseKey(pair.private) instanceof Error)) return { pair, parsed };
  }
}

function unseal(stored: StoredHostKey, secretBox: SecretBox): GatewayHostKey {
  return {
    privateKey: secretBox.open(stored.sealed, SEAL_LABEL),
    publicKey: stored.publicKey,
    fingerprint: stored.fingerprint,
  };
}
