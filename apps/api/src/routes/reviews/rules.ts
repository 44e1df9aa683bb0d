import type { PrismaClient } from '@warden/db';
import { mergePolicyRules, type PolicyRules } from '@warden/policy';

/**
 * The review rules in force on a connection: its enabled review policies merged in the order the
 * gateway merges policies (by name), so the API and the gateway agree on which rule applies.
 */
export async function connectionReviewRules(prisma: PrismaClient, connectionId: string): Promise<PolicyRules> {
  const policies = await prisma.policy.findMany({
    where: { kind: 'review', enabled: true, connections: { some: { id: connectionId } } },
    orderBy: { name: 'asc' },
    select: { rules: true },
  });
  return mergePolicyRules(policies.map((p) => p.rules as PolicyRules));
}
