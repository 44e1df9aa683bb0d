import { BackendCode, decodeCommandComplete } from '@warden/pg-wire';
import type { LimitedStatement } from './row-limit.js';

// How one limited statement's answers are told apart from the rest and judged; the design, and why
// the transaction status is never needed, is described at RowLimitEnforcer (row-limit.ts).

/** Server frames that may arrive at any time and are passed on as they come. */
const ASYNCHRONOUS = new Set<number>([
  BackendCode.NoticeResponse,
  BackendCode.NotificationResponse,
  BackendCode.ParameterStatus,
]);

/** Responses to Parse, Bind, Describe and Close: in an extended pipeline they may precede the Execute's rows. */
const PIPELINE_ANSWERS = new Set<number>([
  BackendCode.ParseComplete,
  BackendCode.BindComplete,
  BackendCode.CloseComplete,
  BackendCode.ParameterDescription,
  BackendCode.RowDescription,
  BackendCode.NoData,
]);

const TAG = /^(?:UPDATE|DELETE|MERGE) (\d+)$/;

export type Step =
  | { action: 'pass' | 'swallow' | 'hold' | 'failed' | 'kept' }
  | { action: 'refused'; message: string }
  | { action: 'lost'; reason: string };

const PASS: Step = { action: 'pass' };
const SWALLOW: Step = { action: 'swallow' };
const HOLD: Step = { action: 'hold' };
const FAILED: Step = { action: 'failed' };
const KEPT: Step = { action: 'kept' };

/** One limited statement on its way through the server's answers. */
export class LimitedRun {
  /** The statement's own DataRows (and, for a Query, RowDescription), until its count is known. */
  held: Buffer[] = [];
  private rows = 0;
  /** For a Query sent as Parse/Bind/Describe/Execute: which of its answers comes next. */
  private expect: 'parse' | 'bind' | 'describe' | 'rows';

  constructor(
    readonly statement: LimitedStatement,
    /** ReadyForQuery frames that answer messages sent before the statement. */
    public owedReadyForQuery: number,
    /** Executes of the same pipeline sent before the statement, whose results come first. */
    private executesBefore: number,
    readonly end: () => void,
  ) {
    this.expect = statement.kind === 'query' ? 'parse' : 'rows';
  }

  step(frame: Buffer): Step {
    const code = frame[0]!;
    if (this.owedReadyForQuery > 0 || ASYNCHRONOUS.has(code)) return PASS;
    if (code === BackendCode.ErrorResponse) return FAILED;
    if (this.executesBefore > 0) {
      if (
        code === BackendCode.CommandComplete ||
        code === BackendCode.EmptyQueryResponse ||
        code === BackendCode.PortalSuspended
      ) {
        this.executesBefore -= 1;
      }
      return PASS;
    }
    switch (this.expect) {
      case 'parse':
        return this.next(code, BackendCode.ParseComplete, 'bind');
      case 'bind':
        return this.next(code, BackendCode.BindComplete, 'describe');
      case 'describe':
        if (code === BackendCode.NoData) {
          this.expect = 'rows';
          return SWALLOW;
        }
        if (code === BackendCode.RowDescription) {
          this.expect = 'rows';
          this.held.push(frame);
          return HOLD;
        }
        return this.lost(code);
      case 'rows':
        return this.rowsStep(code, frame);
    }
  }

  private next(code: number, wanted: number, then: 'bind' | 'describe'): Step {
    if (code !== wanted) return this.lost(code);
    this.expect = then;
    return SWALLOW;
  }

  private rowsStep(code: number, frame: Buffer): Step {
    const { rule, limit } = this.statement.rowLimit;
    if (code === BackendCode.DataRow) {
      this.rows += 1;
      // One row more than the limit settles it: the rest are counted, never kept.
      if (this.rows <= limit) this.held.push(frame);
      else if (this.rows === limit + 1) this.held = [];
      return HOLD;
    }
    if (code === BackendCode.CommandComplete) {
      const count = countOf(frame);
      if (count === null) {
        return {
          action: 'refused',
          message: `max_rows_affected rule "${rule}": the row count of the statement could not be read; refused (fail closed)`,
        };
      }
      if (count <= limit && this.rows <= limit) return KEPT;
      const n = Math.max(count, this.rows);
      return {
        action: 'refused',
        message: `max_rows_affected rule "${rule}": ${n} rows would be affected, the limit is ${limit}; nothing was changed`,
      };
    }
    if (code === BackendCode.EmptyQueryResponse || code === BackendCode.PortalSuspended) {
      return {
        action: 'refused',
        message: `max_rows_affected rule "${rule}": the statement gave no row count; refused (fail closed)`,
      };
    }
    // Answers to the pipeline's Parse, Bind, Describe or Close sent between earlier Executes and this one.
    if (this.statement.kind === 'execute' && PIPELINE_ANSWERS.has(code)) return PASS;
    return this.lost(code);
  }

  private lost(code: number): Step {
    return {
      action: 'lost',
      reason: `Warden could not follow the server's answer (message type ${String.fromCharCode(code)}) to a statement with a row limit; ending the session`,
    };
  }
}

/** UPDATE n, DELETE n, MERGE n → n; anything else → null. */
function countOf(frame: Buffer): number | null {
  const match = TAG.exec(decodeCommandComplete(frame));
  return match ? Number(match[1]) : null;
}
