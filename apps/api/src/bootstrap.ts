import { adoptToken, issueToken } from '@warden/access';
import type { PrismaClient } from '@warden/db';

export interface BootstrapResult {
  /** Set only when a key was generated here and must be shown to the operator once. */
  generatedKey?: string;
  created: boolean;
}

/**
 * Makes sure an admin can sign in on first start. With BOOTSTRAP_ADMIN_KEY the
 * operator chose the key; otherwise one is generated and returned to be printed
 * exactly once. Does nothing when an active admin already exists.
 */
export async function ensureBootstrapAdmin(
  prisma: PrismaClient,
  bootstrapKey: string | undefined,
): Promise<BootstrapResult> {
  const admins = await prisma.identity.count({ where: { role: 'admin', status: 'active' } });
  if (admins > 0) return { created: false };
  if (bootstrapKey !== undefined && bootstrapKey.length < 16) {
    throw new Error('BOOTSTRAP_ADMIN_KEY must be at least 16 characters');
  }
  const issued = bootstrapKey ? adoptToken(bootstrapKey) : issueToken('apiKey');
  await prisma.$transaction(async (tx) => {
    const admin = await tx.identity.upsert({
      where: { name: 'admin' },
      create: { name: 'admin', role: 'admin', displayName: 'Bootstrap administrator' },
      update: { role: 'admin', status: 'active' },
    });
    await tx.apiKey.deleteMany({ where: { identityId: admin.id, name: 'bootstrap' } });
    await tx.apiKey.create({
      data: { identityId: admin.id, name: 'bootstrap', prefix: issued.prefix, hash: issued.hash },
    });
    await tx.auditEntry.create({
      data: {
        action: 'admin.bootstrap',
        targetType: 'identity',
        targetId: admin.id,
        targetName: admin.name,
        actorName: 'system',
      },
    });
  });
  return bootstrapKey ? { created: true } : { created: true, generatedKey: issued.token };
}
