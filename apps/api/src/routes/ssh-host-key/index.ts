import { Type } from 'typebox';
import type { PrismaClient } from '@warden/db';
import { ApiError } from '../../errors.js';
import { errors } from '../../schemas.js';
import type { ApiInstance } from '../../types.js';

/** Where the gateway keeps its host key (apps/gateway/src/ssh/host-key.ts): the private half sealed. */
const SETTING_KEY = 'ssh.hostKey';

export interface SshHostKey {
  /** `SHA256:...`, as `ssh-keygen -lf` and ssh's first-connection prompt print it. */
  fingerprint: string;
  /** OpenSSH format, `ssh-ed25519 AAAA...`: a known_hosts entry without the host. */
  publicKey: string;
}

const SshHostKeyBody = Type.Object({
  fingerprint: Type.String({ description: '`SHA256:...`, what ssh shows on the first connection' }),
  publicKey: Type.String({ description: '`ssh-ed25519 AAAA...`; known_hosts: `[host]:port <publicKey>`' }),
});

/**
 * The public half of the gateways' SSH host key, or undefined before the first gateway
 * generated it. Every gateway replica presents this one key.
 */
export async function readSshHostKey(prisma: PrismaClient): Promise<SshHostKey | undefined> {
  const row = await prisma.setting.findUnique({ where: { key: SETTING_KEY } });
  const value = row?.value as { fingerprint?: unknown; publicKey?: unknown } | null | undefined;
  if (typeof value?.fingerprint !== 'string' || typeof value.publicKey !== 'string') return undefined;
  return { fingerprint: value.fingerprint, publicKey: value.publicKey.trim() };
}

/** GET /api/ssh/host-key: what SSH clients should expect from the gateway, for any signed-in caller. */
export async function sshHostKeyRoutes(app: ApiInstance) {
  const { prisma } = app.services;
  app.get(
    '/host-key',
    {
      schema: {
        tags: ['ssh-keys'],
        summary: "The gateway's SSH host key: check the fingerprint ssh shows, or pin it in known_hosts",
        response: { 200: SshHostKeyBody, ...errors(401, 503) },
      },
    },
    async () => {
      const key = await readSshHostKey(prisma);
      if (!key) {
        throw new ApiError(503, 'no gateway has started yet: the first one to start generates the SSH host key');
      }
      return key;
    },
  );
}
