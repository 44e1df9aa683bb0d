import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { hashToken, issueToken } from '@warden/access';
import type { PrismaClient } from '@warden/db';

/**
 * The embedded stack runs an agent named `default` in-process. Its key is kept in
 * `<dataDir>/agent-default.key` (0600); when the file is missing or no longer
 * matches the stored hash, the key is rotated, so a restart never locks it out. The data
 * directory is created when missing (with DATABASE_URL nothing else may have made it yet).
 */
export async function ensureEmbeddedAgent(prisma: PrismaClient, dataDir: string, name = 'default'): Promise<string> {
  const file = path.join(dataDir, `agent-${name}.key`);
  const saved = existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
  const agent = await prisma.agent.findUnique({ where: { name } });
  if (agent && saved && agent.keyHash === hashToken(saved) && !agent.revokedAt) return saved;

  const issued = issueToken('agentKey');
  const data = { keyHash: issued.hash, keyPrefix: issued.prefix, revokedAt: null };
  const row = agent
    ? await prisma.agent.update({ where: { id: agent.id }, data })
    : await prisma.agent.create({ data: { name, description: 'Embedded agent started with the stack', ...data } });
  await prisma.auditEntry.create({
    data: {
      action: agent ? 'agent.rotate-key' : 'agent.create',
      targetType: 'agent',
      targetId: row.id,
      targetName: row.name,
      actorName: 'system',
      details: { reason: 'embedded stack start' },
    },
  });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, issued.token + '\n', { mode: 0o600 });
  return issued.token;
}
