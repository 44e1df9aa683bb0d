import { adoptToken, issueToken } from '@warden/access';
import type { Prisma, PrismaClient } from '@warden/db';

export interface BootstrapResult {
  /**
   * A generated key the caller must show the operator once. Set only when no `show` option was
   * given: with `show`, the key was shown before the admin was stored and is not returned.
   */
  generatedKey?: string;
  created: boolean;
}

export interface BootstrapOptions {
  /**
   * Shows a generated key to the operator (synchronously: write it out before returning). It is
   * called inside the transaction that stores the admin, before the commit, so no admin is ever
   * stored whose generated key was not shown: a process killed before showing it leaves no admin
   * behind, and the next start generates and shows another. Should the commit fail after the key
   * was shown, the error says that key does not work.
   */
  show?: (key: string) => void;
}

/**
 * Serialises the admin bootstrap and admin recovery of every process on one control plane
 * (replicas starting together): held until the transaction ends.
 */
export async function lockAdminBootstrap(tx: Prisma.TransactionClient): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('warden:admin-bootstrap'))`;
}

/** Enough for a slow first start on a busy host; Prisma's default is 5 s. */
export const ADMIN_TRANSACTION = { maxWait: 30_000, timeout: 30_000 } as const;

/**
 * Makes sure an admin can sign in on first start. With BOOTSTRAP_ADMIN_KEY the
 * operator chose the key; otherwise one is generated and shown exactly once (see
 * BootstrapOptions.show). Does nothing when an active admin already exists.
 */
export async function ensureBootstrapAdmin(
  prisma: PrismaClient,
  bootstrapKey: string | undefined,
  options: BootstrapOptions = {},
): Promise<BootstrapResult> {
  if ((await activeAdmins(prisma)) > 0) return { created: false };
  if (bootstrapKey !== undefined && bootstrapKey.length < 16) {
    throw new Error('BOOTSTRAP_ADMIN_KEY must be at least 16 characters');
  }
  const issued = bootstrapKey ? adoptToken(bootstrapKey) : issueToken('apiKey');
  let shown = false;
  let created = false;
  try {
    await prisma.$transaction(async (tx) => {
      await lockAdminBootstrap(tx);
      // Another process may have bootstrapped while this one waited for the lock.
      if ((await activeAdmins(tx)) > 0) return;
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
          details: { keySource: bootstrapKey ? 'BOOTSTRAP_ADMIN_KEY' : 'generated' },
        },
      });
      created = true;
      if (!bootstrapKey && options.show) {
        options.show(issued.token);
        shown = true;
      }
    }, ADMIN_TRANSACTION);
  } catch (error) {
    if (!shown) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`the admin API key shown above was not saved and does not work (${reason}); start again`, {
      cause: error,
    });
  }
  if (!created) return { created: false };
  return bootstrapKey || options.show ? { created: true } : { created: true, generatedKey: issued.token };
}

function activeAdmins(prisma: Prisma.TransactionClient): Promise<number> {
  return prisma.identity.count({ where: { role: 'admin', status: 'active' } });
}
