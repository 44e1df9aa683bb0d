import { analyze } from './analyze/index.js';
import type { AnalysisResult, StatementAnalysis } from './analyze/types.js';
import { LruCache, type CacheStats, type LruOptions } from './cache.js';
import { numericLiteralShape } from './literal-shape.js';
import { compileGuardrail, everywhereViolation, type CompiledGuardrail, type Violation } from './rules/guardrails.js';
import { LEXING_RULE, lexingViolation } from './rules/lexing.js';
import { CompiledMasking, type MaskedColumnUse, type MaskingPlan } from './rules/masking.js';
import type { RowLimit } from './rules/row-limit.js';
import { catalogSqlTextMatcher, SQL_TEXT_RULE, SqlTextCheck } from './rules/sql-text.js';
import {
  accessRequirement,
  compileReviewRule,
  type AccessRequirement,
  type CompiledReviewRule,
  type ReviewRequirement,
} from './rules/reviews.js';
import { validatePolicyRules, type PolicyRules, type RuleError, type SqlGuardrailRule } from './rules/schemas.js';
import { CatalogDenials, catalogFactsHash, hasCatalogFacts } from './session/catalog.js';
import type { CatalogFacts } from './session/contract.js';

export const UNPARSEABLE_RULE = 'unparseable';
export const UNPARSEABLE_MESSAGE = 'Warden could not parse this statement; refusing it (fail closed)';
export const MASKING_RULE = 'masking';
export { LEXING_RULE, SQL_TEXT_RULE };
export type { RowLimit };

/** How many derived (catalog-aware) policies one compiled policy keeps, one per distinct catalog. */
const MAX_CATALOG_VARIANTS = 16;

export interface AllowDecision {
  action: 'allow';
  /** Set when a max_rows_affected rule applies; see {@link RowLimit}. */
  rowLimit?: RowLimit;
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

/**
 * The statement may run once people approve it (a require_review rule matched and nothing blocks
 * it). Until then the gateway holds it; approved, it runs like an allow (same statements and
 * masked columns), bound to its exact text and parameters.
 */
export interface ReviewDecision {
  action: 'review';
  /** As for allow: the approved statement runs under this limit. */
  rowLimit?: RowLimit;
  /** The require_review rule's name. */
  rule: string;
  /** For the client while it waits (NoticeResponse). */
  message: string;
  /** What matched. */
  detail: string;
  /** Which statement of a multi-statement string matched, from 0; the whole string is held. */
  statementIndex: number;
  review: ReviewRequirement;
  statements: readonly StatementAnalysis[];
  maskedColumns: readonly MaskedColumnUse[];
}

export type Decision = AllowDecision | BlockDecision | ReviewDecision;
/** What a policy compiled without `reviews: 'hold'` decides: review rules become blocks. */
export type ImmediateDecision = AllowDecision | BlockDecision;

export class PolicyRulesError extends Error {
  constructor(readonly errors: RuleError[]) {
    super(`invalid policy rules: ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`);
    this.name = 'PolicyRulesError';
  }
}

/**
 * `hold`: the caller can hold a statement until people approve it, so review rules answer
 * {@link ReviewDecision}. `block` (default): review rules answer a block naming the rule, so a
 * path that cannot hold statements fails closed instead of running them unapproved.
 */
export type ReviewMode = 'hold' | 'block';

export interface CompileOptions {
  /** Bounds of this policy's decision cache. */
  cache?: LruOptions;
  reviews?: ReviewMode;
}

/**
 * A policy compiled once from its JSON rules; decisions are cached per SQL text inside it. `D` is
 * what {@link decide} can answer: {@link Decision} when compiled with `reviews: 'hold'`, else
 * {@link ImmediateDecision} (so a caller is made to handle reviews exactly when it asked for them).
 */
export class CompiledPolicy<D extends Decision = ImmediateDecision> {
  /** @internal */ readonly guardrails: readonly CompiledGuardrail[];
  /** @internal */ readonly maskingRules: CompiledMasking;
  /** @internal */ readonly reviewRules: readonly CompiledReviewRule[];
  /** @internal */ readonly cache: LruCache<D>;
  /** @internal the built-in check of functions that run SQL given as text */
  readonly sqlText: SqlTextCheck;
  /**
   * @internal With catalog facts: a refused function runs where the parser cannot see it (an
   * implicit cast, a type's I/O), so every statement is refused.
   */
  readonly refusesEverything: { rule: string; violation: Violation } | undefined;
  /** What the agent applies to rows of allowed statements. */
  readonly masking: MaskingPlan;
  /** Whether there is anything to enforce: unparseable SQL is refused exactly when this is true. */
  readonly guarded: boolean;
  /** Whether decisions may be shared across numeric literal values (no regex rule could tell them apart). */
  readonly foldsNumbers: boolean;
  readonly reviewMode: ReviewMode;
  /** Who approves access requests (the first enabled access_review rule), if anyone. */
  readonly accessReview: AccessRequirement | undefined;
  /** Type-level only: what decisions this policy gives. */
  declare readonly decisionType?: D;
  /** Catalog-aware variants of this policy by facts hash (see {@link withCatalog}). */
  private readonly catalogVariants = new Map<string, CompiledPolicy<D>>();

  /** @internal use {@link compilePolicy} */
  constructor(
    readonly rules: PolicyRules,
    readonly version: string,
    private readonly options: CompileOptions = {},
    /** Facts from the target's catalog this variant was compiled with. */
    readonly catalog?: CatalogFacts,
    private readonly base?: CompiledPolicy<D>,
  ) {
    // Shell command rules (deny_commands, allow_commands) are for SSH exec, not statements.
    this.guardrails = (rules.guardrails ?? [])
      .filter(
        (r): r is SqlGuardrailRule => r.enabled !== false && r.type !== 'deny_commands' && r.type !== 'allow_commands',
      )
      .map((r) => compileGuardrail(r, catalog));
    this.maskingRules = new CompiledMasking(rules.masking, catalog);
    this.masking = this.maskingRules.plan;
    const reviews = (rules.reviews ?? []).filter((r) => r.enabled !== false);
    this.reviewRules = reviews.flatMap((r) => (r.type === 'require_review' ? [compileReviewRule(r)] : []));
    this.accessReview = accessRequirement(rules);
    this.reviewMode = options.reviews ?? 'block';
    // A statement that cannot be analysed cannot be shown not to need a review either.
    this.guarded = this.guardrails.length > 0 || this.maskingRules.active || this.reviewRules.length > 0;
    this.foldsNumbers =
      !(rules.guardrails ?? []).some((r) => r.enabled !== false && r.type === 'deny_pattern') &&
      !reviews.some((r) => r.type === 'require_review' && r.match.pattern !== undefined);
    const sqlTextDenials = catalog ? new CatalogDenials(catalog, catalogSqlTextMatcher) : undefined;
    this.sqlText = new SqlTextCheck(sqlTextDenials);
    this.refusesEverything = this.everywhereRefusal(sqlTextDenials);
    this.cache = new LruCache<D>(options.cache);
  }

  /** Decision cache counters for metrics. */
  cacheStats(): CacheStats {
    return this.cache.stats();
  }

  /**
   * This policy with facts from the target's catalog (read by the agent at session start):
   * deny_functions rules and the built-in SQL-text check then also refuse user-defined operators,
   * casts, aggregates and types implemented by a refused function, and every statement when one
   * runs through an implicit/assignment cast or a type's I/O; column masking also refuses views
   * over masked columns and attribute notation on masked tables (session/masked-catalog.ts). The
   * variant has its own decision cache and a version naming the facts' hash; it is kept per facts
   * hash (up to 16 catalogs), so the sessions of one database share it. Facts that name nothing
   * give this policy itself.
   */
  withCatalog(facts: CatalogFacts): CompiledPolicy<D> {
    const base = this.base ?? this;
    if (!hasCatalogFacts(facts)) return base;
    const hash = catalogFactsHash(facts);
    const variants = base.catalogVariants;
    let variant = variants.get(hash);
    if (!variant) {
      variant = new CompiledPolicy<D>(
        base.rules,
        `${base.version}+catalog:${hash.slice(0, 16)}`,
        base.options,
        structuredClone(facts),
        base,
      );
      if (variants.size >= MAX_CATALOG_VARIANTS) {
        const oldest = variants.keys().next().value;
        if (oldest !== undefined) variants.delete(oldest);
      }
      variants.set(hash, variant);
    }
    return variant;
  }

  private everywhereRefusal(sqlText: CatalogDenials | undefined): CompiledPolicy['refusesEverything'] {
    if (!this.guarded) return undefined;
    for (const g of this.guardrails) {
      if (g.refusesEverything) return { rule: g.name, violation: g.refusesEverything };
    }
    if (sqlText?.everywhere) {
      return { rule: SQL_TEXT_RULE, violation: everywhereViolation(sqlText.everywhere, SQL_TEXT_RULE) };
    }
    return undefined;
  }
}

/** Validates and compiles rules; throws {@link PolicyRulesError} listing every problem. */
export function compilePolicy(
  rules: unknown,
  version: string | number,
  options: CompileOptions & { reviews: 'hold' },
): CompiledPolicy<Decision>;
export function compilePolicy(
  rules: unknown,
  version: string | number,
  options?: CompileOptions & { reviews?: 'block' },
): CompiledPolicy;
export function compilePolicy(
  rules: unknown,
  version: string | number,
  options?: CompileOptions,
): CompiledPolicy<Decision> {
  const valid = validatePolicyRules(rules);
  if (!valid.ok) throw new PolicyRulesError(valid.errors);
  return new CompiledPolicy<Decision>(structuredClone(valid.rules), String(version), options);
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
export function decide<D extends Decision>(policy: CompiledPolicy<D>, sql: string): D {
  const key = policy.foldsNumbers ? numericLiteralShape(sql) : sql;
  return policy.cache.getOrCompute(key, () => {
    try {
      return evaluate(
        policy,
        analysisCache.getOrCompute(sql, () => analyze(sql)),
      ) as D;
    } catch (err) {
      // The stack can run out wherever the walk of a very deep tree happens to be
      // (how deep depends on the caller's stack): refuse like any unanalyzable SQL.
      if (!(err instanceof RangeError)) throw err;
      return evaluate(policy, { ok: false, message: `statement too complex to analyze (${err.message})` }) as D;
    }
  });
}

/** {@link decide} without either cache (benchmarks, tests). */
export function decideUncached<D extends Decision>(policy: CompiledPolicy<D>, sql: string): D {
  return evaluate(policy, analyze(sql)) as D;
}

function evaluate(policy: CompiledPolicy<Decision>, analysis: AnalysisResult): Decision {
  const everything = policy.refusesEverything;
  if (everything && !(analysis.ok && analysis.statements.length === 0)) {
    return freeze({ action: 'block', rule: everything.rule, ...everything.violation });
  }
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
  // A block in any statement wins over a review, so the first review match is only remembered.
  let review: MatchedReview | undefined;
  const { statements } = analysis;
  for (const stmt of statements) {
    for (const guardrail of policy.guardrails) {
      const v = guardrail.check(stmt, statements);
      if (v) return blockFor(guardrail.name, v, stmt);
    }
    if (policy.guarded) {
      // Built in on every guarded connection: what no rule document may turn off.
      const lexing = lexingViolation(stmt);
      if (lexing) return blockFor(LEXING_RULE, lexing, stmt);
      const sqlText = policy.sqlText.check(stmt);
      if (sqlText) return blockFor(SQL_TEXT_RULE, sqlText, stmt);
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
    if (review === undefined) {
      for (const rule of policy.reviewRules) {
        const detail = rule.match(stmt);
        if (detail !== undefined) {
          review = { rule, statementIndex: stmt.index, detail };
          break;
        }
      }
    }
  }
  const rowLimit = strictestRowLimit(policy, statements);
  if (review) return reviewOutcome(policy.reviewMode, review, statements, maskedColumns, rowLimit);
  const allow: AllowDecision = { action: 'allow', statements, maskedColumns };
  if (rowLimit) allow.rowLimit = rowLimit;
  return freeze(allow);
}

function blockFor(rule: string, v: Violation, stmt: StatementAnalysis): BlockDecision {
  return freeze({ action: 'block', rule, message: v.message, detail: v.detail, statementIndex: stmt.index });
}

/** The lowest limit of the max_rows_affected rules that apply (a string no guardrail refused). */
function strictestRowLimit(
  policy: CompiledPolicy<Decision>,
  statements: readonly StatementAnalysis[],
): RowLimit | undefined {
  let strictest: RowLimit | undefined;
  for (const g of policy.guardrails) {
    const limit = g.rowLimit?.(statements);
    if (limit && (!strictest || limit.limit < strictest.limit)) strictest = limit;
  }
  return strictest;
}

interface MatchedReview {
  rule: CompiledReviewRule;
  statementIndex: number;
  /** Why the rule matched. */
  detail: string;
}

function reviewOutcome(
  mode: ReviewMode,
  { rule, statementIndex, detail: matched }: MatchedReview,
  statements: readonly StatementAnalysis[],
  maskedColumns: MaskedColumnUse[],
  rowLimit: RowLimit | undefined,
): Decision {
  const { approverGroups, approvals } = rule.requirement;
  const who = `${approvals === 1 ? 'an approval' : `${approvals} approvals`} from ${approverGroups.join(', ')}`;
  const detail = `${matched}: rule "${rule.name}" needs ${who}`;
  if (mode === 'block') {
    return freeze({
      action: 'block',
      rule: rule.name,
      message: 'this statement needs an approval, which cannot be waited for here; refusing it (fail closed)',
      detail,
      statementIndex,
    });
  }
  const decision: ReviewDecision = {
    action: 'review',
    rule: rule.name,
    message: rule.message ?? `this statement needs ${who} before it runs`,
    detail,
    statementIndex,
    review: rule.requirement,
    statements,
    maskedColumns,
  };
  if (rowLimit) decision.rowLimit = rowLimit;
  return freeze(decision);
}

/**
 * Decisions are shared between callers through the cache, so the decision and its lists are
 * frozen. The statement analyses inside are shared too and must be treated as read-only (freezing
 * every nested object would cost about as much as the rest of an uncached decision).
 */
function freeze<T extends Decision>(decision: T): T {
  if (decision.action !== 'block') {
    Object.freeze(decision.statements);
    for (const m of decision.maskedColumns) Object.freeze(m);
    Object.freeze(decision.maskedColumns);
  }
  return Object.freeze(decision);
}
