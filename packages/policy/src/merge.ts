import type { PolicyRules } from './rules/schemas.js';

/**
 * One rule document from the documents of every enabled policy attached to a connection, in the
 * order given (the gateway orders policies by name): guardrails, masking columns and detectors,
 * and review rules are concatenated; `protectCatalogs: false` anywhere turns it off. Rule names
 * may repeat; a decision names the first rule that matched.
 */
export function mergePolicyRules(documents: Iterable<PolicyRules>): PolicyRules {
  const merged = {
    guardrails: [] as NonNullable<PolicyRules['guardrails']>,
    masking: { columns: [], detectors: [] } as {
      columns: NonNullable<NonNullable<PolicyRules['masking']>['columns']>;
      detectors: NonNullable<NonNullable<PolicyRules['masking']>['detectors']>;
      protectCatalogs?: boolean;
    },
    reviews: [] as NonNullable<PolicyRules['reviews']>,
  };
  for (const rules of documents) {
    merged.guardrails.push(...(rules.guardrails ?? []));
    if (rules.masking) {
      merged.masking.columns.push(...(rules.masking.columns ?? []));
      merged.masking.detectors.push(...(rules.masking.detectors ?? []));
      if (rules.masking.protectCatalogs === false) merged.masking.protectCatalogs = false;
    }
    merged.reviews.push(...(rules.reviews ?? []));
  }
  return merged;
}
