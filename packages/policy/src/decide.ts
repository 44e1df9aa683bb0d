import { analyze } from './analyze/index.js';
import type { AnalysisResult, StatementAnalysis } from './analyze/types.js';
import { LruCache, type CacheStats, type LruOptions } from './cache.js';
import { numericLiteralShape } from './literal-shape.js';
import { compileGuardrail, type CompiledGuardrail } from './rules/guardrails.js';
import { CompiledMasking, type MaskedColumnUse, type MaskingPlan } from './rules/masking.js';
import { validatePolicyRules, type PolicyRules, type RuleError } from './rules/schemas.js';

export const UNPARSEABLE_RULE = 'unparseable';
export const UNPARSEABLE_MESSAGE = 'Warden could not parse this statement; refusing it (fail closed)';
export const MASKING_RULE = 'masking';

export interface AllowDecision {
  action: 'allow';
  statements: readonly StatementAnalysis[];
  /** Masked columns the statements return (the agent masks them by RowDescription origin). */
  maskedColumns: readonly MaskedColumnUse[];
  /** Set when the SQL could not be parsed and the policy has no rules to enforce. */
  parseError?: string;
}

export interface BlockDecision {
  action: 'block';
  /** The rule's name; `unparseable` and `masking` for the built-in checks. */
  rule: string;
  /** For the client (ErrorResponse message, SQLSTATE 42501). */
  message: string;
  /** What exactly matched (ErrorResponse detail). */
  detail?: string;
  /** Which statement of a multi-statement string, from 0. */
  statementIndex?: number;
  /** For masking blocks: the masked column, `schema.table.column`. */
  column?: string;
}

export type Decision = AllowDecision | BlockDecision;

export class PolicyRulesError extends Error {
  constructor(readonly errors: RuleError[]) {
    super(`invalid policy rules: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`);
    this.name = 'PolicyRulesError';
  }
}

export interface CompileOptions {
  /** Bounds of this policy's decision cache. */
  cache?: LruOptions;
}

/** A policy compiled once from its JSON rules; decisions are cached per SQL text inside it. */
export class CompiledPolicy {
  /** @internal */ readonly guardrails: readonly CompiledGuardrail[];
  /** @internal */ readonly maskingRules: CompiledMasking;
  /** @internal */ readonly cache: LruCache<Decision>;
  /** What the agent applies to rows of allowed statements. */
  readonly masking: MaskingPlan;
  /** Whether there is anything to enforce: unparseable SQL is refused exactly when this is true. */
  readonly guarded: boolean;
  /** Whether decisions may be shared across numeric literal values (no regex rule could tell them apart). */
  readonly foldsNumbers: boolean;

  /** @internal use {@link compilePolicy} */
  constructor(
    readonly rules: PolicyRules,
    readonly version: string,
    options: CompileOptions = {},
  ) {
    this.guardrails = (rules.guardrails ?? []).filter((r) => r.enabled !== false).map(compileGuardrail);
    this.maskingRules = new CompiledMasking(rules.masking);
    this.masking = this.maskingRules.plan;
    this.guarded = this.guardrails.length > 0 || this.maskingRules.active;
    this.foldsNumbers = !(rules.guardrails ?? []).some((r) => r.enabled !== false && r.type === 'deny_pattern');
    this.cache = new LruCache<Decision>(options.cache);
  }

  /** Decision cache counters for metrics. */
  cacheStats(): CacheStats {
    return this.cache.stats();
  }
}

/** Validates and compiles rules; throws {@link PolicyRulesError} listing every problem. */
export function compilePolicy(rules: unknown, version: string | number, options?: CompileOptions): CompiledPolicy {
  const valid = validatePolicyRules(rules);
  if (!valid.ok) throw new PolicyRulesError(valid.errors);
  return new CompiledPolicy(structuredClone(valid.rules), String(version), options);
}

/** Analyses shared by every policy: a new policy version does not parse again. */
const analysisCache = new LruCache<AnalysisResult>();

export function analysisCacheStats(): CacheStats {
  return analysisCache.stats();
}

/**
 * Allow or block one SQL string (a simple Query, possibly several statements, or one Parse).
 * Pure apart from the caches; the returned decision is frozen and shared between callers.
 */
export function decide(policy: CompiledPolicy, sql: string): Decision {
  const key = policy.foldsNumbers ? numericLiteralShape(sql) : sql;
  return policy.cache.getOrCompute(key, () => {
    try {
      return evaluate(
        policy,
        analysisCache.getOrCompute(sql, () => analyze(sql)),
      );
    } catch (err) {
      // The stack can run out wherever the walk of a very deep tree happens to be
      // (how deep depends on the caller's stack): refuse like any unanalyzable SQL.
      if (!(err instanceof RangeError)) throw err;
      return evaluate(policy, { ok: false, message: `statement too complex to analyze (${err.message})` });
    }
  });
}

/** {@link decide} without either cache (benchmarks, tests). */
export function decideUncached(policy: CompiledPolicy, sql: string): Decision {
  return evaluate(policy, analyze(sql));
}

function evaluate(policy: CompiledPolicy, analysis: AnalysisResult): Decision {
  if (!analysis.ok) {
    if (policy.guarded) {
      return freeze({
        action: 'block',
        rule: UNPARSEABLE_RULE,
        message: UNPARSEABLE_MESSAGE,
        detail: analysis.message,
      });
    }
    return freeze({ action: 'allow', statements: [], maskedColumns: [], parseError: analysis.message });
  }
  const maskedColumns: MaskedColumnUse[] = [];
  for (const stmt of analysis.statements) {
    for (const guardrail of policy.guardrails) {
      const v = guardrail.check(stmt);
      if (v) {
        return freeze({
          action: 'block',
          rule: guardrail.name,
          message: v.message,
          detail: v.detail,
          statementIndex: stmt.index,
        });
      }
    }
    const mv = policy.maskingRules.check(stmt, maskedColumns);
    if (mv) {
      const block: BlockDecision = {
        action: 'block',
        rule: MASKING_RULE,
        message: mv.message,
        detail: mv.detail,
        statementIndex: stmt.index,
      };
      if (mv.column !== undefined) block.column = mv.column;
      return freeze(block);
    }
  }
  return freeze({ action: 'allow', statements: analysis.statements, maskedColumns });
}

/**
 * Decisions are shared between callers through the cache, so the decision and its lists are
 * frozen. The statement analyses inside are shared too and must be treated as read-only (freezing
 * every nested object would cost about as much as the rest of an uncached decision).
 */
function freeze<T extends Decision>(decision: T): T {
  if (decision.action === 'allow') {
    Object.freeze(decision.statements);
    for (const m of decision.maskedColumns) Object.freeze(m);
    Object.freeze(decision.maskedColumns);
  }
  return Object.freeze(decision);
}
