import { anyGlob } from '../rules/glob.js';
import { DEFAULT_REVIEW_TIMEOUT_SECONDS, type ReviewRequirement } from '../rules/reviews.js';
import {
  validatePolicyRules,
  type AllowCommandsRule,
  type DenyCommandsRule,
  type PolicyRules,
  type RequireCommandReviewRule,
} from '../rules/schemas.js';
import { PolicyRulesError } from '../decide.js';
import { analyzeCommandLine, type ShellAnalysis, type SimpleCommand } from './analyze.js';
import type { Construct, ConstructKind } from './constructs.js';
import { SHELL_DETECTOR_FUNCTIONS } from './detectors.js';
import { normalizeDir, SYSTEM_DIRS } from './writers.js';

/** What policy says about one SSH exec command. `construct` names what kept it from being judged. */
export type CommandDecision =
  | { action: 'allow' }
  | { action: 'block'; rule: string; message: string; construct?: ConstructKind }
  | { action: 'review'; rule: string; message: string; review: ReviewRequirement; construct?: ConstructKind };

export interface CommandContext {
  /** The exec asked for a terminal (pagers can then start shells). */
  pty?: boolean;
}

type Matcher = (line: string, analysis: ShellAnalysis) => string | undefined;

/** Any given criterion matching is a match; returns why. */
function compileMatch(match: {
  commands?: string[];
  pattern?: string;
  flags?: string;
  detect?: string[];
  any?: boolean;
  dynamic?: boolean;
}): Matcher {
  const checks: Matcher[] = [];
  if (match.any === true) checks.push(() => 'every command is held');
  if (match.dynamic === true) {
    checks.push((_line, { constructs }) =>
      constructs[0] ? `the policy cannot see which programs it runs: ${constructs[0].detail}` : undefined,
    );
  }
  if (match.commands) {
    const matches = anyGlob(match.commands);
    checks.push((_line, { commands }) => {
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
    if (detector) checks.push((_line, { commands }) => detector(commands));
  }
  return (line, analysis) => {
    for (const check of checks) {
      const why = check(line, analysis);
      if (why !== undefined) return why;
    }
    return undefined;
  };
}

/** The programs an allow_commands rule lets run. */
function compileAllowList(rules: AllowCommandsRule[]): (command: SimpleCommand) => boolean {
  const entries = rules.flatMap((r) => r.commands);
  const byName = anyGlob(
    entries.filter((e) => !e.includes('/')),
    true,
  );
  const byPath = anyGlob(entries.filter((e) => e.includes('/')).map(normalizeDir), true);
  return (command) => {
    if (!command.path.includes('/')) return byName(command.program);
    const path = normalizeDir(command.path);
    if (!path.startsWith('/')) return false;
    const dir = path.slice(0, path.lastIndexOf('/')) || '/';
    return byPath(path) || (SYSTEM_DIRS.has(dir) && byName(command.program));
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
 * The shell-command part of a connection's merged policy rules: allow_commands and deny_commands
 * guardrails and require_command_review rules. SQL rules in the same document are ignored here
 * (as the SQL policy ignores these). Order: a deny rule, then the allow-list, then constructs the
 * line cannot be judged through (refused while any guardrail is in force, held when a review rule
 * matches), then review rules.
 */
export class ShellPolicy {
  private readonly denies: { rule: DenyCommandsRule; match: Matcher }[];
  private readonly allows: AllowCommandsRule[];
  private readonly allowed: (command: SimpleCommand) => boolean;
  private readonly reviews: { rule: RequireCommandReviewRule; match: Matcher; requirement: ReviewRequirement }[];
  private readonly runners: ReadonlySet<string>;
  private readonly scripts: (path: string) => boolean;

  constructor(rules: PolicyRules) {
    const guardrails = (rules.guardrails ?? []).filter((r) => r.enabled !== false);
    this.denies = guardrails.flatMap((r) => (r.type === 'deny_commands' ? [{ rule: r, match: compileMatch(r) }] : []));
    this.allows = guardrails.flatMap((r) => (r.type === 'allow_commands' ? [r] : []));
    this.allowed = compileAllowList(this.allows);
    const commandRules = guardrails.flatMap((r) =>
      r.type === 'deny_commands' || r.type === 'allow_commands' ? [r] : [],
    );
    this.runners = new Set(commandRules.flatMap((r) => r.runners ?? []));
    this.scripts = anyGlob(
      commandRules.flatMap((r) => (r.scripts ?? []).map(normalizeDir)),
      true,
    );
    this.reviews = (rules.reviews ?? []).flatMap((r) =>
      r.type === 'require_command_review' && r.enabled !== false
        ? [{ rule: r, match: compileMatch(r.match), requirement: requirementOf(r) }]
        : [],
    );
  }

  /** Whether any command rule is in force. */
  get guarded(): boolean {
    return this.denies.length > 0 || this.allows.length > 0 || this.reviews.length > 0;
  }

  /**
   * Opening an interactive shell: refused by a deny_commands rule, or held by a
   * require_command_review rule, that says `interactive: true` (a guardrail wins); refused on a
   * connection with an allow-list, whose programs a shell's keystrokes could bypass.
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
    const allow = this.allows[0];
    if (allow) {
      return {
        action: 'block',
        rule: allow.name,
        message: `interactive shells are refused by rule "${allow.name}": an allow-list judges exec commands, not keystrokes; run commands with exec`,
        construct: 'interactive-shell',
      };
    }
    return { action: 'allow' };
  }

  decide(command: string, context: CommandContext = {}): CommandDecision {
    if (!this.guarded) return { action: 'allow' };
    const analysis = analyzeCommandLine(command, {
      pty: context.pty === true,
      runners: this.runners,
      scripts: this.scripts,
    });
    for (const { rule, match } of this.denies) {
      const why = match(command, analysis);
      if (why !== undefined) {
        return {
          action: 'block',
          rule: rule.name,
          message: rule.message ?? `command refused by rule "${rule.name}": ${why}`,
        };
      }
    }
    const allow = this.allows[0];
    if (allow) {
      const outside = analysis.commands.find((c) => !c.builtin && c.program !== '' && !this.allowed(c));
      if (outside) {
        return {
          action: 'block',
          rule: allow.name,
          message:
            allow.message ??
            `command refused by rule "${allow.name}": it runs ${outside.path}, which is not on the allow-list`,
        };
      }
    }
    const construct = analysis.constructs[0];
    if (construct) return this.unjudged(command, analysis, construct);
    for (const { rule, match, requirement } of this.reviews) {
      const why = match(command, analysis);
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

  /** A line the rules cannot see through: held if a review rule takes it, refused otherwise. */
  private unjudged(command: string, analysis: ShellAnalysis, construct: Construct): CommandDecision {
    const held =
      this.reviews.find(({ match }) => match(command, analysis) !== undefined) ??
      (this.denies.length === 0 && this.allows.length === 0 ? this.reviews[0] : undefined);
    if (held) {
      return {
        action: 'review',
        rule: held.rule.name,
        message:
          held.rule.message ??
          `command held by rule "${held.rule.name}": the policy cannot see which programs it runs (${construct.detail})`,
        review: held.requirement,
        construct: construct.kind,
      };
    }
    const allow = this.allows[0];
    const rule = allow ?? this.denies[0]!.rule;
    const why = allow
      ? 'only lines whose programs can all be resolved before they run may run'
      : 'the policy cannot see which programs it runs, and deny rules refuse what they cannot see through';
    return {
      action: 'block',
      rule: rule.name,
      message: `${rule.message ?? `command refused by rule "${rule.name}"`}: ${construct.detail}; ${why}`,
      construct: construct.kind,
    };
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
