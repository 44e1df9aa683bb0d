export { ResultMasker, UNKNOWN_ROW_COUNTER, type ResultMaskerOptions } from './result-masker.js';
export {
  COLUMN_CATALOG_QUERY,
  MASKED_RELATIONS_CTES,
  DEFAULT_DETECTOR_STRATEGIES,
  TEXT_TYPE_CATALOG_QUERY,
  catalogLookup,
  catalogQueryParams,
  columnKey,
  compilePlan,
  parseQualifiedColumn,
  resolveColumnRules,
  type CatalogRow,
  type ColumnLocation,
  type ColumnLookup,
  type ColumnRule,
  type ColumnRuleConfig,
  type CompiledPlan,
  type MaskingPlan,
  type QualifiedColumn,
  type ResolvedColumnRules,
} from './plan.js';
export {
  Hasher,
  HASH_HEX_DIGITS,
  STRATEGIES,
  applyStrategy,
  isStrategy,
  keepDomain,
  keepLast4,
  redaction,
  type Strategy,
} from './strategies.js';
export {
  DETECTORS,
  DETECTOR_BIT,
  DETECTOR_IDS,
  candidates,
  findSpans,
  ibanChecksumValid,
  isDetectorId,
  luhnValid,
  stringStats,
  textStats,
  type Detector,
  type DetectorId,
  type Span,
  type TextStats,
} from './detectors/index.js';
export { ValueMasker, Syntax, type Counts } from './value-masker.js';
export { RowDescriptions, type Description } from './row-descriptions.js';
export { valueKind, binaryLayout, TypeOid, type ValueKind, type BinaryLayout } from './pg-types.js';
export { WITHHELD_TEXT, NOTICE_WITHHELD_COUNTER } from './notices.js';

import { findSpans } from './detectors/index.js';
import { compilePlan, type MaskingPlan } from './plan.js';
import { Hasher } from './strategies.js';
import { Syntax, ValueMasker } from './value-masker.js';

/**
 * Convenience for one-off strings (logs, notices, tests): mask `text` with the plan's detectors.
 * Returns the masked text and the counts. Uses a random hash key unless one is given.
 */
export function maskText(
  text: string,
  plan: MaskingPlan,
  hashKey?: Uint8Array | string,
): { text: string; counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  const masker = new ValueMasker(compilePlan(plan), new Hasher(hashKey), counts);
  const b = Buffer.from(text, 'utf8');
  const out = masker.maskBytes(b, 0, b.length, Syntax.Plain);
  return { text: out ? out.toString('utf8') : text, counts };
}

/** Which detectors fire on `text`, with the matched substrings (for tests and rule previews). */
export function detect(text: string, plan: MaskingPlan): { detector: string; value: string }[] {
  const latin1 = Buffer.from(text, 'utf8').toString('latin1');
  const p = compilePlan(plan);
  return findSpans(latin1, p.detectors).map((s) => ({
    detector: s.detector,
    value: Buffer.from(latin1.slice(s.start, s.end), 'latin1').toString('utf8'),
  }));
}
