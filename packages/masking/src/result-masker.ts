import {
  BackendCode,
  BackendSerializer,
  BackendSplitter,
  decodeCopyResponse,
  frameTypes,
  ProtocolViolation,
  type TypedFrontendMessage,
} from '@warden/pg-wire';
import { maskCell, planColumns, type ColumnPlan } from './cells.js';
import { maskNotice, maskNotification, frameOf } from './notices.js';
import { compilePlan, type CompiledPlan, type MaskingPlan } from './plan.js';
import { RowDescriptions, type Description } from './row-descriptions.js';
import { Hasher } from './strategies.js';
import { Syntax, ValueMasker, type Counts } from './value-masker.js';

export interface ResultMaskerOptions {
  /**
   * Key of the `hash` strategy (>= 16 bytes), e.g. derived per connection. Default (or empty):
   * 32 random bytes per masker, so hashes are stable within the connection only.
   */
  hashKey?: Uint8Array | string;
  /**
   * The caller also passes every frontend message it forwards to the target to
   * {@link ResultMasker.frontend}, so RowDescriptions are tracked per statement and portal exactly
   * (see {@link RowDescriptions}). Recommended; required for clients that execute prepared
   * statements without describing them.
   */
  trackFrontend?: boolean;
  /**
   * A DataRow whose columns are unknown (no RowDescription applies, or its column count differs):
   * `'null'` turns every cell into NULL (fail closed), `'detect'` runs the detectors on every cell
   * as text. Default: `'null'` when the plan has column rules (which cannot be applied without
   * knowing the columns), else `'detect'`.
   */
  unknownRows?: 'null' | 'detect';
  /** Largest backend message accepted (default: pg-wire's 1 GiB + 64 KiB). */
  maxMessageSize?: number;
}

/** Counter of DataRows masked under the unknown-row policy. */
export const UNKNOWN_ROW_COUNTER = 'unknown_row';

// Frames the masker must look at even when no column of the current result needs masking.
const ALWAYS_INSPECTED = [
  BackendCode.RowDescription,
  BackendCode.ParameterDescription,
  BackendCode.NoData,
  BackendCode.ParseComplete,
  BackendCode.BindComplete,
  BackendCode.CloseComplete,
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
  BackendCode.PortalSuspended,
  BackendCode.ErrorResponse,
  BackendCode.NoticeResponse,
  BackendCode.ReadyForQuery,
  BackendCode.NotificationResponse,
  BackendCode.CopyOutResponse,
  BackendCode.CopyInResponse,
  BackendCode.CopyBothResponse,
  BackendCode.CopyData,
  BackendCode.CopyDone,
];
/** Runs may include DataRows (the current result needs no masking). */
const PASS_ROWS = frameTypes(ALWAYS_INSPECTED);
/** DataRows must be looked at one by one. */
const INSPECT_ROWS = frameTypes([...ALWAYS_INSPECTED, BackendCode.DataRow]);

/**
 * Masks a Postgres backend byte stream (target → client) according to a {@link MaskingPlan}:
 * DataRow cells by column rule and value detector, ErrorResponse/NoticeResponse fields,
 * NotificationResponse payloads and the CopyData lines of text-format COPY TO STDOUT (detectors
 * only: COPY carries no column identities, so policy must refuse COPY of tables with column rules).
 *
 * Streaming: `push(chunk)` returns what to write onward, in order. Unchanged frames leave as
 * zero-copy slices of the pushed chunks, consecutive ones merged into one Buffer; changed frames
 * are rebuilt with correct lengths. Only an incomplete frame is held back, so memory is bounded
 * by one message; the caller owns backpressure (stop pushing while the client is slow).
 */
export class ResultMasker {
  private readonly splitter: BackendSplitter;
  private readonly hasher: Hasher;
  private readonly descriptions: RowDescriptions;
  private readonly unknownRowsOption: 'null' | 'detect' | undefined;
  private plan!: CompiledPlan;
  private values!: ValueMasker;
  private counters: Counts = {};
  /** Column plans of the current description (undefined = unknown columns). */
  private columns: ColumnPlan[] | undefined;
  private columnsActive = false;
  private columnsVersion = -1;
  private copyText = false;
  private out: Buffer[] = [];
  private runBuf: ArrayBufferLike | null = null;
  private runFirst: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;

  constructor(plan: MaskingPlan, options: ResultMaskerOptions = {}) {
    this.splitter = new BackendSplitter(
      options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize },
    );
    this.hasher = new Hasher(options.hashKey);
    this.descriptions = new RowDescriptions(options.trackFrontend === true);
    this.unknownRowsOption = options.unknownRows;
    this.setPlan(plan);
  }

  /** Replace the plan (a policy change); applies from the next frame on. */
  setPlan(plan: MaskingPlan): void {
    this.plan = compilePlan(plan);
    this.values = new ValueMasker(this.plan, this.hasher, this.counters);
    this.columnsVersion = -1;
  }

  /** Tracked mode: every typed frontend message forwarded to the target, in order. */
  frontend(message: TypedFrontendMessage): void {
    this.descriptions.frontend(message);
  }

  /**
   * Frontend tracking state: 'off' (untracked mode), 'ok', or 'lost' when the frontend messages
   * and the responses disagreed (a caller bug): every later row is then handled by the
   * unknown-row policy. Worth logging.
   */
  get tracking(): 'off' | 'ok' | 'lost' {
    return this.descriptions.tracking;
  }

  /** Masked cells (and other masked values) by detector id or `column:<name>` since the last reset. */
  counts(): Record<string, number> {
    return { ...this.counters };
  }

  /** Start counting afresh (e.g. per statement). */
  resetCounts(): void {
    for (const k of Object.keys(this.counters)) delete this.counters[k];
  }

  /** Counts so far, then reset. */
  takeCounts(): Record<string, number> {
    const c = this.counts();
    this.resetCounts();
    return c;
  }

  /** Bytes pushed but not yet returned (at most one incomplete frame). */
  get bufferedLength(): number {
    return this.splitter.bufferedLength;
  }

  /**
   * Push the next chunk from the target; returns the Buffers to write to the client. Throws a
   * fatal {@link ProtocolViolation} if the stream cannot be framed, or a DataRow is malformed
   * (the connection must be closed: forwarding an unparseable row could leak it).
   */
  push(chunk: Buffer): Buffer[] {
    this.splitter.push(chunk);
    const out = (this.out = []);
    const splitter = this.splitter;
    try {
      for (;;) {
        if (this.columnsVersion !== this.descriptions.version) this.refreshColumns();
        const run = splitter.readRun(this.columnsActive ? INSPECT_ROWS : PASS_ROWS);
        if (run !== null) {
          this.emit(run);
          continue;
        }
        const frame = splitter.read();
        if (frame === null) break;
        this.emit(this.frame(frame));
      }
      this.flushRun();
    } catch (e) {
      // A malformed RowDescription or DataRow: the columns can no longer be known. Fatal.
      if (e instanceof ProtocolViolation && !e.fatal) throw new ProtocolViolation(e.message, e.code, true, e.frame);
      throw e;
    } finally {
      this.out = [];
      this.runBuf = null;
      this.runFirst = null;
    }
    return out;
  }

  private refreshColumns(): void {
    this.columnsVersion = this.descriptions.version;
    const d: Description | undefined = this.descriptions.rows;
    this.columns = d === undefined ? undefined : planColumns(d, this.plan);
    // Unknown columns: rows must be inspected (unknown-row policy) unless the plan is empty.
    this.columnsActive = this.columns === undefined ? !this.plan.empty : this.columns.some((c) => c.active);
  }

  /**
   * Append to the output. Consecutive Buffers that are adjacent in memory (frames of one chunk)
   * are merged into one slice, created once when the run ends.
   */
  private emit(b: Buffer): void {
    if (this.runBuf !== null && this.runBuf === b.buffer && this.runEnd === b.byteOffset) {
      this.runEnd += b.length;
      return;
    }
    this.flushRun();
    this.runBuf = b.buffer;
    this.runStart = b.byteOffset;
    this.runEnd = b.byteOffset + b.length;
    this.runFirst = b;
  }

  private flushRun(): void {
    if (this.runBuf === null) return;
    const first = this.runFirst!;
    this.out.push(
      this.runEnd - this.runStart === first.length
        ? first
        : Buffer.from(this.runBuf, this.runStart, this.runEnd - this.runStart),
    );
    this.runBuf = null;
    this.runFirst = null;
  }

  /** One frame the run did not cover: track it and mask it if needed. */
  private frame(frame: Buffer): Buffer {
    const code = frame[0]!;
    if (code === BackendCode.DataRow) {
      this.descriptions.backend(frame);
      if (this.columnsVersion !== this.descriptions.version) this.refreshColumns();
      return this.plan.empty ? frame : (this.maskRow(frame) ?? frame);
    }
    if (this.plan.empty) {
      this.descriptions.backend(frame);
      return frame;
    }
    switch (code) {
      case BackendCode.ErrorResponse:
      case BackendCode.NoticeResponse:
        this.descriptions.backend(frame);
        return maskNotice(frame, this.values, this.plan.columns.size > 0, this.counters) ?? frame;
      case BackendCode.NotificationResponse:
        return maskNotification(frame, this.values) ?? frame;
      case BackendCode.CopyOutResponse:
        this.copyText = decodeCopyResponse(frame).format === 0;
        return frame;
      case BackendCode.CopyData:
        return this.copyText ? this.maskCopyData(frame) : frame;
      case BackendCode.CopyDone:
      case BackendCode.CopyInResponse:
      case BackendCode.CopyBothResponse:
        this.copyText = false;
        return frame;
      default:
        this.descriptions.backend(frame);
        if (code === BackendCode.CommandComplete || code === BackendCode.ReadyForQuery) this.copyText = false;
        return frame;
    }
  }

  private maskCopyData(frame: Buffer): Buffer {
    const r = this.values.maskBytes(frame, 5, frame.length, Syntax.Plain);
    return r ? frameOf(BackendCode.CopyData, [r]) : frame;
  }

  /** The masked DataRow, or null if no cell changed. */
  private maskRow(frame: Buffer): Buffer | null {
    if (frame.length < 7) throw badRow('DataRow too short');
    const n = frame.readUInt16BE(5);
    const columns = this.columns;
    if (columns !== undefined && !this.columnsActive && columns.length === n) return null;
    const known = columns !== undefined && columns.length === n;
    const policy = this.unknownRowsOption ?? (this.plan.columns.size > 0 ? 'null' : 'detect');
    if (!known && policy === 'null') {
      this.counters[UNKNOWN_ROW_COUNTER] = (this.counters[UNKNOWN_ROW_COUNTER] ?? 0) + 1;
      return BackendSerializer.dataRow(new Array<null>(n).fill(null));
    }
    // Pass 1: mask cells, remembering only the changed ones (index, replacement).
    let changed: number[] | null = null;
    let replacements: (Buffer | null)[] | null = null;
    let pos = 7;
    for (let i = 0; i < n; i++) {
      if (frame.length - pos < 4) throw badRow('DataRow truncated');
      const len = frame.readInt32BE(pos);
      pos += 4;
      if (len === -1) continue;
      if (len < 0 || frame.length - pos < len) throw badRow(`invalid DataRow cell length ${len}`);
      const col = known ? columns[i]! : UNKNOWN_COLUMN;
      if (col.active) {
        const r = maskCell(col, frame, pos, pos + len, this.values, this.hasher, this.counters);
        if (r !== undefined) {
          (changed ??= []).push(i);
          (replacements ??= []).push(r);
        }
      }
      pos += len;
    }
    if (pos !== frame.length) throw badRow('DataRow has trailing bytes');
    if (!known) this.counters[UNKNOWN_ROW_COUNTER] = (this.counters[UNKNOWN_ROW_COUNTER] ?? 0) + 1;
    return changed === null ? null : reframe(frame, n, changed, replacements!);
  }
}

/**
 * Rebuild a (validated) DataRow with the cells at indexes `changed` replaced: one allocation,
 * unchanged stretches (length words included) copied in one piece each.
 */
function reframe(frame: Buffer, n: number, changed: number[], replacements: (Buffer | null)[]): Buffer {
  // Locate the changed cells: [start of length word, end of cell) in the old frame.
  const spans = new Array<number>(changed.length * 2);
  let delta = 0;
  let pos = 7;
  let k = 0;
  for (let i = 0; i < n && k < changed.length; i++) {
    const len = frame.readInt32BE(pos);
    const end = pos + 4 + (len < 0 ? 0 : len);
    if (i === changed[k]) {
      spans[2 * k] = pos;
      spans[2 * k + 1] = end;
      const r = replacements[k]!;
      delta += (r === null ? 0 : r.length) - (len < 0 ? 0 : len);
      k++;
    }
    pos = end;
  }
  const out = Buffer.allocUnsafe(frame.length + delta);
  frame.copy(out, 0, 0, 7);
  out.writeInt32BE(frame.length + delta - 1, 1);
  let from = 7;
  let to = 7;
  for (k = 0; k < changed.length; k++) {
    to += frame.copy(out, to, from, spans[2 * k]);
    const r = replacements[k]!;
    if (r === null) {
      out.writeInt32BE(-1, to);
      to += 4;
    } else {
      out.writeInt32BE(r.length, to);
      to += 4 + r.copy(out, to + 4);
    }
    from = spans[2 * k + 1]!;
  }
  frame.copy(out, to, from);
  return out;
}

/** Unknown columns under the 'detect' policy: scanned as text (a quoted literal, to be safe). */
const UNKNOWN_COLUMN: ColumnPlan = {
  kind: 'literal',
  format: 0,
  jsonb: false,
  element: undefined,
  rule: undefined,
  counter: '',
  detect: true,
  active: true,
};

function badRow(message: string): ProtocolViolation {
  return new ProtocolViolation(message, '08P01', true);
}
