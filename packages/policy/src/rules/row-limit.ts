import type { StatementAnalysis } from '../analyze/types.js';
import { label, type Violation } from './guardrails.js';
import type { MaxRowsAffectedRule, RowLimitedKind } from './schemas.js';

/**
 * A max_rows_affected rule that applies to an allowed (or approved) statement: the gateway holds
 * the statement's Sync until its command tag says how many rows it changed, and above `limit`
 * fails the statement so the server rolls it back, answering 42501 naming the rule
 * (apps/gateway/src/postgres/row-limit.ts). Present only when the SQL is exactly one top-level
 * UPDATE, DELETE or MERGE; policy refuses limited writes it could not measure that way (nested in
 * WITH, bodies, or one of several statements in one string).
 */
export interface RowLimit {
  /** The max_rows_affected rule's name. */
  rule: string;
  limit: number;
  /** For the client when the limit is exceeded. */
  message: string;
}

const ALL_KINDS: readonly RowLimitedKind[] = ['update', 'delete', 'merge'];

/** `A`, `A and B`, `A, B and C`. */
function listText(items: string[]): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * max_rows_affected: the gateway counts the rows of a top-level UPDATE/DELETE/MERGE from its
 * command tag, which says nothing about writes nested elsewhere (a data-modifying CTE, a DO block or
 * function body, a rule action, EXPLAIN ANALYZE) or about the other statements of a multi-statement
 * string. So a limited write is allowed only as a statement on its own (then the decision carries
 * {@link RowLimit}), and refused anywhere else.
 */
export class CompiledRowLimit {
  readonly name: string;
  private readonly kinds: ReadonlySet<string>;
  private readonly limit: RowLimit;

  constructor(private readonly rule: MaxRowsAffectedRule) {
    this.name = rule.name;
    this.kinds = new Set(rule.kinds ?? ALL_KINDS);
    const what = listText([...this.kinds].map((k) => k.toUpperCase()));
    this.limit = Object.freeze({
      rule: rule.name,
      limit: rule.limit,
      message:
        rule.message ??
        `${what} may change at most ${rule.limit} row${rule.limit === 1 ? '' : 's'} per statement on this connection; this statement changed more and was rolled back`,
    });
  }

  /** Refuses a limited write that the gateway could not count. */
  check(stmt: StatementAnalysis, all: readonly StatementAnalysis[]): Violation | undefined {
    // Plain EXPLAIN plans the statement without running it.
    if (stmt.kind === 'explain' && stmt.explainAnalyze !== true) return undefined;
    const nested = stmt.subKinds.find((k) => this.kinds.has(k));
    if (nested !== undefined) {
      return this.unmeasurable(
        `${label(nested)} inside ${label(stmt.kind)}`,
        'the row count Postgres reports is that of the outer statement only',
      );
    }
    if (this.kinds.has(stmt.kind) && all.length > 1) {
      return this.unmeasurable(
        `${label(stmt.kind)} as one of ${all.length} statements in one query string`,
        'the row count of each statement of a multi-statement string cannot be checked before the next one runs',
      );
    }
    return undefined;
  }

  /** The limit for a string that is exactly one top-level limited write. */
  rowLimit(all: readonly StatementAnalysis[]): RowLimit | undefined {
    const [only] = all;
    return all.length === 1 && only && this.kinds.has(only.kind) ? this.limit : undefined;
  }

  private unmeasurable(what: string, why: string): Violation {
    return {
      message: `${what} cannot be held to the limit of ${this.rule.limit} rows of rule "${this.rule.name}": ${why}; send the ${[...this.kinds].map((k) => k.toUpperCase()).join('/')} as a query of its own, outside WITH, EXPLAIN ANALYZE and bodies`,
      detail: `${what} is refused by max_rows_affected rule "${this.rule.name}" (limit ${this.rule.limit}) because its rows cannot be counted`,
    };
  }
}
