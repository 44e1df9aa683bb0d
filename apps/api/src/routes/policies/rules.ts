import { validatePolicyRules, type PolicyRules, type ReviewRule } from '@warden/policy';
import type { SecretBox } from '@warden/runtime';
import { badRequest } from '../../errors.js';

/** Which part of a policy-rules document each kind of policy holds. */
const SECTION = { guardrail: 'guardrails', masking: 'masking', review: 'reviews' } as const;

/** Associated data of sealed webhook secrets: a sealed value only opens as one. */
const NOTIFY_SECRET_AD = 'review.notify.secret';
/** Plain secrets are limited so their sealed form stays within the rule schema's 1000 characters. */
const MAX_PLAIN_SECRET = 512;

/**
 * Validates `rules` with the policy engine's own schema (so the API can never store
 * rules the gateway would refuse to compile) and checks the document holds only the
 * section its kind is about.
 */
export function checkRules(kind: 'guardrail' | 'masking' | 'review', rules: Record<string, unknown>): PolicyRules {
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

/**
 * Webhook secrets of review rules are write-only: sealed before they are stored (the gateway and
 * the notification job only ever see the sealed form), and a rule sent without one keeps the
 * sealed secret of the current rule of the same name, so a document read back and sent again
 * does not lose its secrets.
 */
export function sealReviewSecrets(rules: PolicyRules, current: unknown, secretBox: SecretBox): PolicyRules {
  if (!rules.reviews) return rules;
  const kept = new Map<string, string>();
  for (const rule of (current as PolicyRules | null)?.reviews ?? []) {
    if (rule.notify?.secret !== undefined && !kept.has(rule.name)) kept.set(rule.name, rule.notify.secret);
  }
  const tooLong = rules.reviews.findIndex((r) => (r.notify?.secret?.length ?? 0) > MAX_PLAIN_SECRET);
  if (tooLong >= 0) {
    throw badRequest('invalid rules', [
      {
        field: `body.rules.reviews.${tooLong}.notify.secret`,
        message: `must be at most ${MAX_PLAIN_SECRET} characters`,
      },
    ]);
  }
  const reviews = rules.reviews.map((rule): ReviewRule => {
    if (!rule.notify) return rule;
    const { secret, ...notify } = rule.notify;
    const sealed = secret !== undefined ? secretBox.seal(secret, NOTIFY_SECRET_AD) : kept.get(rule.name);
    return { ...rule, notify: sealed !== undefined ? { ...notify, secret: sealed } : notify };
  });
  return { ...rules, reviews };
}

/** The rules as responses show them: webhook secrets left out. */
export function hideReviewSecrets(rules: unknown): Record<string, unknown> {
  const doc = rules as PolicyRules;
  if (!doc?.reviews) return rules as Record<string, unknown>;
  return {
    ...doc,
    reviews: doc.reviews.map((rule) => {
      if (!rule.notify?.secret) return rule;
      const { secret: _secret, ...notify } = rule.notify;
      return { ...rule, notify };
    }),
  };
}

/** A stored (sealed) webhook secret in plain, for signing. */
export function openReviewSecret(secretBox: SecretBox, sealed: string): string {
  return secretBox.open(sealed, NOTIFY_SECRET_AD);
}
