import type { StatementAnalysis } from '../analyze/types.js';
import { anyGlob } from './glob.js';
import { label, tableMatcher, writeReason } from './guardrails.js';
import type { AccessReviewRule, PolicyRules, RequireCommandReviewRule, RequireReviewRule } from './schemas.js';

export const DEFAULT_REVIEW_TIMEOUT_SECONDS = 300;
export const DEFAULT_ACCESS_REVIEW_TIMEOUT_SECONDS = 3600;
export const DEFAULT_MAX_ACCESS_SECONDS = 30 * 24 * 3600;

/**
 * What a review needs, with every default applied: what packages/reviews copies into the Review
 * row. The rule's webhook is not here (its secret must not travel with cached decisions); the API
 * looks it up by rule name when it sends the notification.
 */
export interface ReviewRequirement {
  /** The rule's name. */
  rule: string;
  approverGroups: readonly string[];
  /** Approvals needed; one deny decides. */
  approvals: number;
  /** Whether members of the requester's groups may approve (the requester never can). */
  allowRequesterGroup: boolean;
  /** How long the request waits before it expires. */
  timeoutSeconds: number;
  requireJustification: boolean;
  /** Whether the rule has a webhook to notify. */
  notify: boolean;
}

/** An access review rule's requirement, plus the longest window that may be requested. */
export interface AccessRequirement extends ReviewRequirement {
  maxDurationSeconds: number;
}

/** @internal a require_review rule ready to match statements. */
export interface CompiledReviewRule {
  name: string;
  requirement: ReviewRequirement;
  /** The client-facing message, when the rule sets one. */
  message: string | undefined;
  /** Why the statement matches (every criterion held), or undefined. */
  match(stmt: StatementAnalysis): string | undefined;
}

function requirement(rule: RequireReviewRule | AccessReviewRule, defaultTimeout: number): ReviewRequirement {
  return Object.freeze({
    rule: rule.name,
    approverGroups: Object.freeze([...rule.approverGroups]),
    approvals: rule.approvals ?? 1,
    allowRequesterGroup: rule.allowRequesterGroup ?? true,
    timeoutSeconds: rule.timeoutSeconds ?? defaultTimeout,
    requireJustification: rule.requireJustification ?? false,
    notify: rule.notify !== undefined,
  });
}

/**
 * Criteria are ANDed: `{ kinds: ['delete'], tables: ['users'] }` holds DELETEs that touch users.
 * Each criterion is checked only when given; the cheapest (kind) first.
 */
export function compileReviewRule(rule: RequireReviewRule): CompiledReviewRule {
  const { match } = rule;
  const checks: ((stmt: StatementAnalysis) => string | undefined)[] = [];
  if (match.kinds) {
    const matches = anyGlob(match.kinds);
    checks.push((stmt) => {
      const kind = matches(stmt.kind) ? stmt.kind : stmt.subKinds.find(matches);
      if (kind === undefined) return undefined;
      return kind === stmt.kind ? `a ${label(kind)} statement` : `${label(kind)} inside ${label(stmt.kind)}`;
    });
  }
  if (match.anyWrite === true) {
    const why = writeReason();
    checks.push((stmt) => why(stmt)?.what);
  }
  if (match.tables) {
    const tables = tableMatcher(match.tables);
    checks.push((stmt) => {
      const m = tables(stmt);
      return m ? `${m.what} (matches "${m.pattern}")` : undefined;
    });
  }
  if (match.pattern !== undefined) {
    const re = new RegExp(match.pattern, match.flags ?? '');
    checks.push((stmt) => (re.test(stmt.text) ? `text matches /${match.pattern}/${match.flags ?? ''}` : undefined));
  }
  return {
    name: rule.name,
    message: rule.message,
    requirement: requirement(rule, DEFAULT_REVIEW_TIMEOUT_SECONDS),
    match(stmt) {
      const reasons: string[] = [];
      for (const check of checks) {
        const reason = check(stmt);
        if (reason === undefined) return undefined;
        reasons.push(reason);
      }
      return reasons.join(', ');
    },
  };
}

/**
 * Who approves access requests to a connection: the first enabled access_review rule of its
 * (merged) rules, or undefined when there is none (access cannot be requested then).
 */
export function accessRequirement(rules: PolicyRules): AccessRequirement | undefined {
  for (const rule of rules.reviews ?? []) {
    if (rule.type !== 'access_review' || rule.enabled === false) continue;
    return Object.freeze({
      ...requirement(rule, DEFAULT_ACCESS_REVIEW_TIMEOUT_SECONDS),
      maxDurationSeconds: rule.maxDurationSeconds ?? DEFAULT_MAX_ACCESS_SECONDS,
    });
  }
  return undefined;
}

/** The first enabled review rule (either type) of that name: where a notification goes. */
export function findReviewRule(
  rules: PolicyRules,
  name: string,
): RequireReviewRule | AccessReviewRule | RequireCommandReviewRule | undefined {
  return (rules.reviews ?? []).find((r) => r.name === name && r.enabled !== false);
}
