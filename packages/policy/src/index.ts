export { analyze } from './analyze/index.js';
export { parserCallCount } from './analyze/parser.js';
export { STATEMENT_KINDS, READ_ONLY_KINDS, isDdlKind, type StatementKind } from './analyze/statement-kinds.js';
export type {
  AnalysisResult,
  Clause,
  ColumnSource,
  ColumnUse,
  CopyInfo,
  ExprWrapper,
  FunctionRef,
  OutputSink,
  ParseFailure,
  QualifiedName,
  StatementAnalysis,
  TableAccess,
  TableRef,
  UnfilteredWrite,
} from './analyze/types.js';
export type { CacheStats, LruOptions } from './cache.js';
export {
  analysisCacheStats,
  compilePolicy,
  CompiledPolicy,
  decide,
  decideUncached,
  MASKING_RULE,
  PolicyRulesError,
  UNPARSEABLE_MESSAGE,
  UNPARSEABLE_RULE,
  type AllowDecision,
  type BlockDecision,
  type CompileOptions,
  type Decision,
  type ImmediateDecision,
  type ReviewDecision,
  type ReviewMode,
  type RowLimit,
} from './decide.js';
export { mergePolicyRules } from './merge.js';
export {
  accessRequirement,
  DEFAULT_ACCESS_REVIEW_TIMEOUT_SECONDS,
  DEFAULT_MAX_ACCESS_SECONDS,
  DEFAULT_REVIEW_TIMEOUT_SECONDS,
  findReviewRule,
  type AccessRequirement,
  type ReviewRequirement,
} from './rules/reviews.js';
export { DANGEROUS_FUNCTIONS, DEFAULT_DETECTORS, defaultPolicyRules } from './default-pack.js';
export { SIDE_EFFECT_FUNCTIONS } from './rules/guardrails.js';
export {
  isPlainOutput,
  SQL_TEXT_FUNCTIONS,
  type MaskedColumn,
  type MaskedColumnUse,
  type MaskingPlan,
} from './rules/masking.js';
export {
  ColumnMaskRule,
  CopyForm,
  DETECTOR_IDS,
  DetectorId,
  DetectorRule,
  type DetectorStrategies,
  MASKING_STRATEGIES,
  MaskingStrategy,
  DenyCopyRule,
  DenyFunctionsRule,
  DenyKindsRule,
  DenyPatternRule,
  DenyTablesRule,
  DenyCommandsRule,
  CommandReviewMatch,
  RequireCommandReviewRule,
  SHELL_DETECTORS,
  SqlGuardrailRule,
  GuardrailRule,
  MaskingRules,
  PolicyRules,
  AccessReviewRule,
  ReadOnlyRule,
  RequireReviewRule,
  RequireWhereRule,
  ReviewMatch,
  ReviewRule,
  validatePolicyRules,
  type RuleError,
} from './rules/schemas.js';
export {
  compileShellPolicy,
  DEFAULT_SHELL_GUARDRAIL,
  parseCommandLine,
  ShellPolicy,
  type CommandDecision,
  type SimpleCommand,
} from './shell/index.js';
export {
  LEXING_PINS,
  matchesPin,
  PINNED_CLIENT_ENCODINGS,
  type CatalogFacts,
  type CatalogName,
  type SessionFacts,
  type TargetRoleFacts,
} from './session/contract.js';
