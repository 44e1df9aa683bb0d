import { randomBytes } from 'node:crypto';
import {
  decide,
  type BlockDecision,
  type CompiledPolicy,
  type Decision,
  type ReviewDecision,
  type RowLimit,
} from '@warden/policy';
import {
  BackendCode,
  BackendSplitter,
  BufferWriter,
  decodeErrorResponse,
  frameTypes,
  SqlState,
  type ParseMessage,
  type QueryMessage,
} from '@warden/pg-wire';
import { latency } from '@warden/runtime/metrics';
import { errorFrame } from './client-errors.js';
import { RowLimitEnforcer, type LimitedStatement } from './row-limit.js';

/** Poisons whose errors have not come back yet (see poison()). */
const MAX_PENDING = 256;

/** Frames the response path must look at; every other frame is relayed in runs. */
const RELAYED = frameTypes([BackendCode.ErrorResponse, BackendCode.NoticeResponse]);
/** The same, and ReadyForQuery, for a session whose policy limits rows (see RowLimitEnforcer). */
const RELAYED_COUNTING = frameTypes([BackendCode.ErrorResponse, BackendCode.NoticeResponse, BackendCode.ReadyForQuery]);

export interface BlockedStatement {
  statement: string;
  decision: BlockDecision;
}

/** What to forward for a client message, and the decision that chose it. */
export interface Judged {
  frame: Buffer;
  /** Set when policy refused the statement (the frame is then its poison). */
  blocked: BlockDecision | null;
  /** Set when the statement must wait for approval: hold `frame` until then. */
  review: ReviewDecision | null;
  /** Set when an allowed statement must run under a max_rows_affected rule (see RowLimitEnforcer). */
  rowLimit: RowLimit | null;
}

/** What the guard needs of its session to run statements under a row limit. */
export interface GuardedSession {
  /** Forwards frames to the target after everything forwarded so far. */
  send(frames: Buffer[]): void;
  /** The gateway can no longer tell which answers belong to what: end the session. */
  lost(reason: string): void;
}

/**
 * Enforces policy decisions inside a live Postgres session without breaking the
 * protocol. A blocked Query or Parse is replaced by a "poison" statement the server
 * rejects at parse time (nothing runs); the server then does exactly what it does
 * for any error — discards the rest of the pipeline until Sync, aborts an explicit
 * transaction, answers ReadyForQuery — and the gateway swaps that one ErrorResponse
 * for its own 42501 naming the rule. Ordering with responses still in flight is
 * therefore the server's own, even deep inside a pipeline.
 */
export class StatementGuard {
  /** Poison token → the error the client gets instead of the server's. */
  private readonly pending = new Map<string, Buffer>();
  private readonly splitter = new BackendSplitter();
  blocked = 0;
  /** Cells the agent masked, by detector or `column:<name>`, from its out-of-band reports (countMasked). */
  readonly masked: Record<string, number> = {};
  /** Runs statements under their max_rows_affected rule; counts answers when the policy has one. */
  readonly rowLimits: RowLimitEnforcer;
  private session: GuardedSession | null = null;

  constructor(
    private policy: CompiledPolicy<Decision>,
    private readonly onBlocked: (blocked: BlockedStatement) => void = () => {},
  ) {
    this.rowLimits = new RowLimitEnforcer(limitsRows(policy), {
      send: (frames) => this.session?.send(frames),
      refusal: (kind, message, detail) =>
        this.plant(message, detail, (text) =>
          kind === 'query' ? queryFrame(text) : parseFrame(`warden_refused_${randomBytes(6).toString('hex')}`, text),
        ),
      refused: (statement, message) => this.refusedOverLimit(statement, message),
      filter: (frame) => this.filter(frame),
      lost: (reason) => this.session?.lost(reason),
    });
  }

  /** Where statements the guard adds go, and who ends the session: set once the session relays. */
  connect(session: GuardedSession): void {
    this.session = session;
  }

  /** The connection's policies changed: statements from now on are judged by `next`. */
  replacePolicy(next: CompiledPolicy<Decision>): void {
    this.policy = next;
    if (limitsRows(next)) this.rowLimits.startCounting();
  }

  /** The frame to forward for a Query: the original, or its poison when policy refuses it. */
  query(message: QueryMessage): Judged {
    const began = performance.now();
    const decision = decide(this.policy, message.text);
    latency.decide.observe((performance.now() - began) / 1000);
    if (decision.action === 'allow') {
      return { frame: message.frame, blocked: null, review: null, rowLimit: decision.rowLimit ?? null };
    }
    if (decision.action === 'review') {
      return { frame: message.frame, blocked: null, review: decision, rowLimit: decision.rowLimit ?? null };
    }
    return {
      frame: this.poison(message.text, decision, (text) => queryFrame(text)),
      blocked: decision,
      review: null,
      rowLimit: null,
    };
  }

  /** Extended protocol: judged at Parse; a refused statement never exists on the server. */
  parse(message: ParseMessage): Judged {
    const began = performance.now();
    const decision = decide(this.policy, message.query);
    latency.decide.observe((performance.now() - began) / 1000);
    if (decision.action === 'allow') {
      return { frame: message.frame, blocked: null, review: null, rowLimit: decision.rowLimit ?? null };
    }
    // Preparing runs nothing: a statement needing review is held at its Execute, once its
    // parameters are known (an approval is bound to text and parameters).
    if (decision.action === 'review') {
      return { frame: message.frame, blocked: null, review: decision, rowLimit: decision.rowLimit ?? null };
    }
    return {
      frame: this.poison(message.query, decision, (text) => parseFrame(message.name, text)),
      blocked: decision,
      review: null,
      rowLimit: null,
    };
  }

  /**
   * A frame that makes the server fail where a held statement would have run, answered
   * to the client as 42501 with `message` (denied, expired, cancelled): a poison Query
   * for a simple query, a poison Parse of a throwaway statement in place of an Execute
   * (the server then skips to Sync, as after any error).
   */
  refuse(kind: 'query' | 'execute', message: string): Buffer {
    return this.plant(message, undefined, (text) =>
      kind === 'query' ? queryFrame(text) : parseFrame(`warden_refused_${randomBytes(6).toString('hex')}`, text),
    );
  }

  /** A limited write refused (over its limit, or unmeasurable): counted and reported like a block. */
  private refusedOverLimit(statement: LimitedStatement, message: string): void {
    this.blocked += 1;
    this.onBlocked({
      statement: statement.text,
      decision: { action: 'block', rule: statement.rowLimit.rule, message },
    });
  }

  /**
   * Refuses a message that is not a statement (a FunctionCall) as policy refuses a statement:
   * counted, reported as `statement.blocked` with `what` as its statement, and answered in its
   * place in the pipeline with ErrorResponse 42501 + ReadyForQuery (a poison simple Query).
   */
  block(what: string, decision: BlockDecision): Buffer {
    return this.poison(what, decision, (text) => queryFrame(text));
  }

  private poison(statement: string, decision: BlockDecision, frame: (text: string) => Buffer): Buffer {
    this.blocked += 1;
    this.onBlocked({ statement, decision });
    const message = `blocked by policy rule "${decision.rule}": ${decision.message}`;
    return this.plant(message, decision.detail, frame);
  }

  /** A statement the server rejects at parse time, whose error the client gets as 42501 `message`. */
  private plant(message: string, detail: string | undefined, frame: (text: string) => Buffer): Buffer {
    const token = `warden_policy_block_${randomBytes(8).toString('hex')}`;
    // A poison the server never reached (an earlier error in its pipeline discarded
    // it) never answers; tokens are matched by content, so leftovers only take room.
    if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    this.pending.set(token, errorFrame(SqlState.INSUFFICIENT_PRIVILEGE, message, detail ? { detail } : {}));
    // A bare identifier is a syntax error at parse time: the server runs nothing.
    return frame(token);
  }

  /**
   * Passes the server's bytes through, swapping the poison's ErrorResponse for the
   * policy error. Returns what to send to the client, in order.
   */
  response(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.splitter.push(chunk);
    const limits = this.rowLimits;
    const relayed = limits.countsReadyForQuery ? RELAYED_COUNTING : RELAYED;
    for (;;) {
      if (limits.watching) {
        // A statement under a row limit is running: every frame is looked at until it is settled.
        const frame = this.splitter.read();
        if (!frame) break;
        limits.onFrame(frame, out);
        continue;
      }
      const run = this.splitter.readRun(relayed);
      if (run) {
        out.push(run);
        continue;
      }
      const frame = this.splitter.read();
      if (!frame) break;
      if (frame[0] === BackendCode.ReadyForQuery) {
        limits.readyForQuery();
        appendAdjacent(out, frame);
        continue;
      }
      const filtered = this.filter(frame);
      if (filtered) out.push(filtered);
    }
    return out;
  }

  /**
   * One server frame as the client must see it: a poison's error swapped for the
   * policy error, anything else as is (null: send nothing).
   */
  filter(frame: Buffer): Buffer | null {
    if (frame[0] === BackendCode.ErrorResponse && this.pending.size > 0) return this.substitute(frame);
    return frame;
  }

  /**
   * Adds the agent's masked-cell counts. They arrive in tunnel reports, outside the session's
   * bytes: a notice from the target, whatever its code, is only ever relayed to the client.
   */
  countMasked(counts: Readonly<Record<string, number>>): void {
    for (const [key, n] of Object.entries(counts)) this.masked[key] = (this.masked[key] ?? 0) + n;
  }

  private substitute(frame: Buffer): Buffer {
    const { message } = decodeErrorResponse(frame);
    for (const [token, replacement] of this.pending) {
      if (message.includes(token)) {
        this.pending.delete(token);
        return replacement;
      }
    }
    return frame;
  }
}

/**
 * Adds `frame` to `out`, joined to the previous piece when it directly follows it in memory (a
 * ReadyForQuery read on its own after the run it ends): the client gets one write, as without it.
 */
function appendAdjacent(out: Buffer[], frame: Buffer): void {
  const last = out.at(-1);
  if (last && last.buffer === frame.buffer && last.byteOffset + last.length === frame.byteOffset) {
    out[out.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + frame.length);
  } else {
    out.push(frame);
  }
}

/** Whether a policy has an enabled max_rows_affected rule: its sessions count ReadyForQuery from the start. */
export function limitsRows(policy: CompiledPolicy<Decision>): boolean {
  return (policy.rules.guardrails ?? []).some((rule) => rule.type === 'max_rows_affected' && rule.enabled !== false);
}

function queryFrame(text: string): Buffer {
  return new BufferWriter().startMessage(0x51).cstring(text).endMessage().finish();
}

function parseFrame(name: string, text: string): Buffer {
  return new BufferWriter().startMessage(0x50).cstring(name).cstring(text).int16(0).endMessage().finish();
}
