import { defaultPolicyRules } from '@warden/policy';
import type { Prisma, PrismaClient } from '@warden/db';

export const DEFAULT_POLICY_NAMES = { guardrail: 'default-guardrails', masking: 'default-masking' } as const;

/**
 * The default rule pack as two ordinary, editable policies, created the first time a
 * connection needs them: dangerous statement kinds and functions blocked, value
 * detectors masking. Returns both rows.
 */
export async function ensureDefaultPolicies(prisma: PrismaClient): Promise<{ id: string; name: string }[]> {
  const rules = defaultPolicyRules();
  const wanted = [
    {
      name: DEFAULT_POLICY_NAMES.guardrail,
      kind: 'guardrail' as const,
      description:
        'Default rule pack: destructive and privilege-changing statements, unfiltered writes, server file and program access refused',
      rules: { guardrails: rules.guardrails ?? [] },
    },
    {
      name: DEFAULT_POLICY_NAMES.masking,
      kind: 'masking' as const,
      description: 'Default rule pack: value detectors mask emails, cards, SSNs, phones, IBANs, tokens and keys',
      rules: { masking: rules.masking ?? {} },
    },
  ];
  return Promise.all(
    wanted.map((p) =>
      prisma.policy.upsert({
        where: { name: p.name },
        create: { ...p, rules: p.rules as unknown as Prisma.InputJsonObject },
        update: {},
        select: { id: true, name: true },
      }),
    ),
  );
}
