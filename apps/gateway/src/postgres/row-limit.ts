import type { RowLimit } from '@warden/policy';
import { BackendCode, BufferWriter } from '@warden/pg-wire';
import { RowLimitNames } from './row-limit-names.js';
import { LimitedRun } from './row-limit-run.js';

/**
 * max_rows_affected, enforced around the statement rather than read from its syntax.
 *
 * A limited write runs inside a transaction that only a Sync can end, and its command tag's count
 * is read before that Sync reaches the server:
 * - an Execute (extended protocol) is forwarded with a Flush, and the client's later messages
 *   (its Sync among them) are held until the count is known;
 * - a simple Query is sent as the same statement in the extended protocol (Parse, Bind, Describe,
 *   Execute of the unnamed statement and portal, which a simple Query would replace anyway) and
 *   a Flush; the gateway sends its Sync once the count is known, and answers the client as the
 *   simple Query would have been answered (ParseComplete, BindComplete and NoData swallowed).
 * At or under the limit the held rows and the command tag go to the client and the transaction
 * goes on as it would have. Above it, the gateway sends a statement the server rejects (the
 * StatementGuard's poison), answered to the client as 42501 naming the rule: the server then does
 * what it does for any error at that point, which is exactly the rollback wanted, whatever the
 * transaction state was. Outside a transaction block the implicit transaction of the pipeline is
 * rolled back at Sync (nothing was changed, ReadyForQuery 'I'); inside one the block is aborted
 * (ReadyForQuery 'E') and nothing of it can commit, since every client savepoint predates the
 * write; in a block already aborted the statement itself fails with the server's 25P02. No BEGIN,
 * SAVEPOINT or COMMIT is injected, and the transaction status is never needed.
 *
 * Rows a write RETURNs are held until its count is known (at most `limit` of them: one more means
 * the count is over), so a client never receives rows of a change that is rolled back.
 *
 * Which server frames answer the limited statement is known by counting: every Query, Sync and
 * FunctionCall the server reads is answered by exactly one ReadyForQuery, except Syncs it reads in
 * COPY FROM STDIN mode (libpq sends one there), which it ignores. The frames before the limited
 * statement's are those of the ReadyForQuery still owed when it was sent, then those of the
 * Executes sent before it since the last Sync (each ends with CommandComplete, EmptyQueryResponse,
 * PortalSuspended, or an ErrorResponse after which the server skips to Sync). Counting costs a
 * guarded session with row-limit rules one more frame look per ReadyForQuery; the holding and
 * decoding happen only while a limited statement runs.
 */

/** A statement the gateway runs under a max_rows_affected rule. */
export interface LimitedStatement {
  kind: 'query' | 'execute';
  /** The client's Query or Execute frame. */
  frame: Buffer;
  /** The statement's text (the blocked event names it by hash). */
  text: string;
  rowLimit: RowLimit;
}

/** What the RowLimitEnforcer needs of its session. */
export interface RowLimitHost {
  /** Forwards frames to the target after everything sent so far (the session calls noteSent). */
  send(frames: Buffer[]): void;
  /**
   * A frame the server rejects at parse time (nothing runs), answered to the client as 42501
   * `message`: a Query in place of a Query, a Parse inside a pipeline.
   */
  refusal(kind: 'query' | 'parse', message: string, detail?: string): Buffer;
  /** A limited statement was refused: count it and tell whoever watches. */
  refused(statement: LimitedStatement, message: string): void;
  /** One server frame as the guard passes it (poison errors swapped, masking reports consumed). */
  filter(frame: Buffer): Buffer | null;
  /** The server's answers no longer add up: the session must end (fail closed). */
  lost(reason: string): void;
}

const Code = {
  Query: 0x51,
  Sync: 0x53,
  FunctionCall: 0x46,
  Execute: 0x45,
  Parse: 0x50,
  Bind: 0x42,
  Describe: 0x44,
  Close: 0x43,
  CopyDone: 0x63,
  CopyFail: 0x66,
} as const;

const FLUSH = new BufferWriter().startMessage(0x48).endMessage().finish();
const SYNC = new BufferWriter().startMessage(Code.Sync).endMessage().finish();

/**
 * One session's row-limit enforcement: counts what the server owes, and runs one limited statement
 * at a time (the session reads nothing more from its client meanwhile).
 */
export class RowLimitEnforcer {
  readonly names = new RowLimitNames();
  /** Query, Sync and FunctionCall messages sent, each answered by one ReadyForQuery. */
  private sent = 0;
  private received = 0;
  /** Executes sent since the last Sync, and whether a pipeline is open at all (anything since Sync). */
  private unitExecutes = 0;
  private unitOpen = false;
  /** Syncs since the last Query, Execute or FunctionCall: the server ignores them in COPY FROM STDIN. */
  private syncsSinceStatement = 0;
  private run: LimitedRun | null = null;
  private counting: boolean;
  /** False when counting began mid-session: what was owed then is unknown. */
  private synced: boolean;

  constructor(
    counting: boolean,
    private readonly host: RowLimitHost,
  ) {
    this.counting = counting;
    this.synced = counting;
  }

  /** Whether ReadyForQuery frames must be shown to readyForQuery() (the session's policy limits rows). */
  get countsReadyForQuery(): boolean {
    return this.counting;
  }

  /** The policy gained row limits mid-session: count from now, refuse limited statements (see start()). */
  startCounting(): void {
    if (this.counting) return;
    this.counting = true;
    this.synced = false;
  }

  /** While a limited statement runs, every server frame goes to onFrame(). */
  get watching(): boolean {
    return this.run !== null;
  }

  /** Notes client frames as they are forwarded (each Buffer one frame). */
  noteSent(frames: readonly Buffer[]): void {
    if (!this.counting) return;
    for (const frame of frames) {
      switch (frame[0]) {
        case Code.Query:
          this.sent += 1;
          this.unitExecutes = 0;
          this.unitOpen = false;
          this.syncsSinceStatement = 0;
          break;
        case Code.Sync:
          this.sent += 1;
          this.unitExecutes = 0;
          this.unitOpen = false;
          this.syncsSinceStatement += 1;
          break;
        case Code.FunctionCall:
          this.sent += 1;
          this.syncsSinceStatement = 0;
          break;
        case Code.Execute:
          this.unitExecutes += 1;
          this.unitOpen = true;
          this.syncsSinceStatement = 0;
          break;
        case Code.Parse:
        case Code.Bind:
        case Code.Describe:
        case Code.Close:
          this.unitOpen = true;
          break;
        case Code.CopyDone:
        case Code.CopyFail:
          // The Syncs sent since the COPY started reached the server in copy-in mode: ignored.
          this.sent -= this.syncsSinceStatement;
          this.syncsSinceStatement = 0;
          break;
      }
    }
  }

  /** A ReadyForQuery passed outside a limited run. */
  readyForQuery(): void {
    this.received += 1;
  }

  /**
   * Runs `statement` under its limit. Resolves when the client's next messages may be read: the
   * count was read and the statement kept or refused, or it failed on the server.
   */
  start(statement: LimitedStatement): Promise<void> {
    const { rule } = statement.rowLimit;
    let refusal: string | null = null;
    if (!this.synced) {
      refusal = `max_rows_affected rule "${rule}": the connection's policies changed during this session; reconnect to run writes it limits`;
    } else if (statement.kind === 'query' && this.unitOpen) {
      refusal = `max_rows_affected rule "${rule}": a limited write sent as a simple query inside an unfinished extended-protocol pipeline cannot be measured; send Sync first`;
    } else if (statement.kind === 'execute' && maxRowsOf(statement.frame) !== 0) {
      refusal = `max_rows_affected rule "${rule}": a limited write must run to completion in one Execute, without a row count`;
    }
    if (refusal !== null) {
      this.host.refused(statement, refusal);
      // In place of the statement, a statement of the same kind that fails where it would have run.
      this.host.send([this.host.refusal(statement.kind === 'query' ? 'query' : 'parse', refusal)]);
      return Promise.resolve();
    }
    const owed = this.sent - this.received;
    if (owed < 0) {
      this.host.lost(
        'Warden lost track of the server’s answers; ending the session before a statement with a row limit',
      );
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.run = new LimitedRun(statement, owed, this.unitExecutes, () => {
        this.run = null;
        resolve();
      });
      this.host.send(statement.kind === 'query' ? asExtended(statement.frame) : [statement.frame, FLUSH]);
    });
  }

  /** One server frame while a limited statement runs; what the client gets goes to `out`. */
  onFrame(frame: Buffer, out: Buffer[]): void {
    const run = this.run!;
    if (frame[0] === BackendCode.ReadyForQuery) {
      this.received += 1;
      if (run.owedReadyForQuery > 0) {
        run.owedReadyForQuery -= 1;
        out.push(frame);
        return;
      }
      // Nothing sent since the statement's pipeline began is answered by ReadyForQuery.
      this.host.lost('Warden lost track of the server’s answers to a statement with a row limit; ending the session');
      run.end();
      return;
    }
    const step = run.step(frame);
    switch (step.action) {
      case 'pass': {
        const filtered = this.host.filter(frame);
        if (filtered) out.push(filtered);
        return;
      }
      case 'swallow':
      case 'hold':
        return;
      case 'failed': {
        // The statement (or the pipeline before it) failed on the server: nothing to measure.
        const filtered = this.host.filter(frame);
        if (filtered) out.push(filtered);
        if (run.statement.kind === 'query') this.host.send([SYNC]);
        run.end();
        return;
      }
      case 'kept':
        out.push(...run.held, frame);
        if (run.statement.kind === 'query') this.host.send([SYNC]);
        run.end();
        return;
      case 'refused': {
        this.host.refused(run.statement, step.message);
        // A Parse inside the statement's own pipeline: the server skips to Sync and rolls back.
        const refusal = this.host.refusal('parse', step.message, run.statement.rowLimit.message);
        this.host.send(run.statement.kind === 'query' ? [refusal, SYNC] : [refusal]);
        run.end();
        return;
      }
      case 'lost':
        this.host.lost(step.reason);
        run.end();
        return;
    }
  }
}

/** The row count of an Execute frame (its last four bytes). */
function maxRowsOf(execute: Buffer): number {
  return execute.readInt32BE(execute.length - 4);
}

/**
 * A simple Query's single statement as Parse, Bind, Describe and Execute of the unnamed statement
 * and portal, then Flush: the server answers with its row count but commits nothing before the
 * Sync the gateway sends after reading it. The statement's bytes are reused as the client sent them.
 */
function asExtended(query: Buffer): Buffer[] {
  const text = query.subarray(5); // after type and length: the text and its terminating NUL
  const parse = new BufferWriter().startMessage(Code.Parse).cstring('').bytes(text).int16(0).endMessage().finish();
  const bind = new BufferWriter()
    .startMessage(Code.Bind)
    .cstring('')
    .cstring('')
    .int16(0)
    .int16(0)
    .int16(0)
    .endMessage()
    .finish();
  const describe = new BufferWriter().startMessage(Code.Describe).byte(0x50).cstring('').endMessage().finish();
  const execute = new BufferWriter().startMessage(Code.Execute).cstring('').int32(0).endMessage().finish();
  return [parse, bind, describe, execute, FLUSH];
}
