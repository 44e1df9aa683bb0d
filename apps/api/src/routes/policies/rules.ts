import { validatePolicyRules, type PolicyRules } from '@warden/policy';
import { badRequest } from '../../errors.js';

/** Which part of a policy-rules document each kind of policy holds. */
const SECTION = { guardrail: 'guardrails', masking: 'masking' } as const;

/**
 * Validates `rules` with the policy engine's own schema (so the API can never store
 * rules the gateway would refuse to compile) and checks the document holds only the
 * section its kind is about.
 */
export function checkRules(kind: 'guardrail' | 'masking' | 'review', rules: Record<string, unknown>): PolicyRules {
  if (kind === 'review') {
    throw badRequest('review policies are not supported yet', [
      { field: 'body.kind', message: 'review rules arrive with just-in-time approvals' },
    ]);
  }
  const section = SECTION[kind];
  const extra = Object.keys(rules).filter((key) => key !== section);
  if (extra.length) {
    throw badRequest(
      'rules do not match the policy kind',
      extra.map((key) => ({ field: `body.rules.${key}`, message: `a ${kind} policy holds only "${section}"` })),
    );
  }
  const result = validatePolicyRules(rules);
  if (!result.ok) {
    throw badRequest(
      'invalid rules',
      result.errors.map((e) => ({ field: `body.rules${e.path.replaceAll('/', '.')}`, message: e.message })),
    );
  }
  return result.rules;
}
