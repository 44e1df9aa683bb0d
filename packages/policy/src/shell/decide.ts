import { anyGlob } from '../rules/glob.js';
import { DEFAULT_REVIEW_TIMEOUT_SECONDS, type ReviewRequirement } from '../rules/reviews.js';
import {
  validatePolicyRules,
  type DenyCommandsRule,
  type PolicyRules,
  type RequireCommandReviewRule,
} from '../rules/schemas.js';
import { PolicyRulesError } from '../decide.js';
import { SHELL_DETECTOR_FUNCTIONS } from './detectors.js';
import { parseCommandLine, type SimpleCommand } from './parse.js';

/** What policy says about one SSH exec command. */
export type CommandDecision =
  | { action: 'allow' }
  | { action: 'block'; rule: string; message: string }
  | { action: 'review'; rule: string; message: string; review: ReviewRequirement };

type Matcher = (line: string, commands: SimpleCommand[]) => string | undefined;

/** Any given criterion matching is a match; returns why. */
function compileMatch(match: {
  commands?: string[];
  pattern?: string;
  flags?: string;
  detect?: string[];
  any?: boolean;
}): Matcher {
  const checks: Matcher[] = [];
  if (match.any === true) checks.push(() => 'every command is held');
  if (match.commands) {
    const matches = anyGlob(match.commands);
    checks.push((_line, commands) => {
      const hit = commands.find((c) => c.program && matches(c.program));
      return hit ? `it runs ${hit.program}` : undefined;
    });
  }
  if (match.pattern !== undefined) {
    const re = new RegExp(match.pattern, match.flags ?? '');
    checks.push((line) => (re.test(line) ? `it matches /${match.pattern}/${match.flags ?? ''}` : undefined));
  }
  for (const id of match.detect ?? []) {
    const detector = SHELL_DETECTOR_FUNCTIONS[id];
    if (detector) checks.push((_line, commands) => detector(commands));
  }
  return (line, commands) => {
    for (const check of checks) {
      const why = check(line, commands);
      if (why !== undefined) return why;
    }
    return undefined;
  };
}

function requirementOf(rule: RequireCommandReviewRule): ReviewRequirement {
  return Object.freeze({
    rule: rule.name,
    approverGroups: Object.freeze([...rule.approverGroups]),
    approvals: rule.approvals ?? 1,
    allowRequesterGroup: rule.allowRequesterGroup ?? true,
    timeoutSeconds: rule.timeoutSeconds ?? DEFAULT_REVIEW_TIMEOUT_SECONDS,
    requireJustification: rule.requireJustification ?? false,
    notify: rule.notify !== undefined,
  });
}

/**
 * The shell-command part of a connection's merged policy rules: deny_commands
 * guardrails and require_command_review rules. SQL rules in the same document are
 * ignored here (as the SQL policy ignores these). A guardrail wins over a review.
 */
export class ShellPolicy {
  private readonly denies: { rule: DenyCommandsRule; match: Matcher }[];
  private readonly reviews: { rule: RequireCommandReviewRule; match: Matcher; requirement: ReviewRequirement }[];

  constructor(rules: PolicyRules) {
    this.denies = (rules.guardrails ?? []).flatMap((r) =>
      r.type === 'deny_commands' && r.enabled !== false ? [{ rule: r, match: compileMatch(r) }] : [],
    );
    this.reviews = (rules.reviews ?? []).flatMap((r) =>
      r.type === 'require_command_review' && r.enabled !== false
        ? [{ rule: r, match: compileMatch(r.match), requirement: requirementOf(r) }]
        : [],
    );
  }

  /** Whether any command rule is in force. */
  get guarded(): boolean {
    return this.denies.length > 0 || this.reviews.length > 0;
  }

  /**
   * Opening an interactive shell: refused by a deny_commands rule, or held by a
   * require_command_review rule, that says `interactive: true` (a guardrail wins).
   */
  decideShell(): CommandDecision {
    const deny = this.denies.find(({ rule }) => rule.interactive === true);
    if (deny) {
      const { rule } = deny;
      return {
        action: 'block',
        rule: rule.name,
        message: rule.message ?? `interactive shells are refused by rule "${rule.name}"; run commands with exec`,
      };
    }
    const review = this.reviews.find(({ rule }) => rule.match.interactive === true);
    if (review) {
      return {
        action: 'review',
        rule: review.rule.name,
        message: review.rule.message ?? `an interactive shell is held by rule "${review.rule.name}"`,
        review: review.requirement,
      };
    }
    return { action: 'allow' };
  }

  decide(command: string): CommandDecision {
    if (!this.guarded) return { action: 'allow' };
    const commands = parseCommandLine(command);
    for (const { rule, match } of this.denies) {
      const why = match(command, commands);
      if (why !== undefined) {
        return {
          action: 'block',
          rule: rule.name,
          message: rule.message ?? `command refused by rule "${rule.name}": ${why}`,
        };
      }
    }
    for (const { rule, match, requirement } of this.reviews) {
      const why = match(command, commands);
      if (why !== undefined) {
        return {
          action: 'review',
          rule: rule.name,
          message: rule.message ?? `command held by rule "${rule.name}": ${why}`,
          review: requirement,
        };
      }
    }
    return { action: 'allow' };
  }
}

/** Validates and compiles; throws {@link PolicyRulesError} listing every problem. */
export function compileShellPolicy(rules: unknown): ShellPolicy {
  const checked = validatePolicyRules(rules);
  if (!checked.ok) throw new PolicyRulesError(checked.errors);
  return new ShellPolicy(checked.rules);
}

/** A sensible guardrail for SSH connections: every built-in detector. */
export const DEFAULT_SHELL_GUARDRAIL: DenyCommandsRule = Object.freeze({
  type: 'deny_commands',
  name: 'dangerous-commands',
  detect: ['recursive_root_delete', 'pipe_to_shell', 'power_off', 'disk_wipe'],
}) as DenyCommandsRule;
