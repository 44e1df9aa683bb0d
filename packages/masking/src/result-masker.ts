import {
  BackendCode,
  BackendSerializer,
  BackendSplitter,
  decodeCopyResponse,
  frameTypes,
  ProtocolViolation,
  type TypedFrontendMessage,
} from '@warden/pg-wire';
import { BinaryValues } from './binary-values.js';
import { maskCell, planColumns, type ColumnPlan } from './cells.js';
import { BinaryCopyMasker } from './copy-binary.js';
import { frameOf, maskNotice, maskNotification, maskParameterStatus } from './notices.js';
import { reframe } from './reframe.js';
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
  BackendCode.ParameterStatus,
  BackendCode.FunctionCallResponse,
];
/** Runs may include DataRows (the current result needs no masking). */
const PASS_ROWS = frameTypes(ALWAYS_INSPECTED);
/** DataRows must be looked at one by one. */
const INSPECT_ROWS = frameTypes([...ALWAYS_INSPECTED, BackendCode.DataRow]);

/**
 * Masks a Postgres backend byte stream (target → client) according to a {@link MaskingPlan}:
 * DataRow cells by column rule and value detector, in text and binary format;
 * ErrorResponse/NoticeResponse fields (with column rules, those that can quote values are
 * withheld); NotificationResponse, ParameterStatus and FunctionCallResponse values; the CopyData
 * of COPY TO STDOUT, text/CSV lines and binary streams (detectors only: COPY carries no column
 * identities, so policy must refuse COPY of tables with column rules). A CopyBoth stream
 * (replication) cannot be masked and ends the session.
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
  private binary!: BinaryValues;
  private counters: Counts = {};
  /** Column plans of the current description (undefined = unknown columns). */
  private columns: ColumnPlan[] | undefined;
  private columnsActive = false;
  private columnsVersion = -1;
  /** The COPY TO STDOUT in progress: text/CSV lines, a binary stream, or none. */
  private copy: 'text' | BinaryCopyMasker | null = null;
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
    this.binary = new BinaryValues(this.values, this.plan.textTypes);
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
        const masked = this.frame(frame);
        if (masked.length > 0) this.emit(masked);
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
      case BackendCode.ParameterStatus:
        return maskParameterStatus(frame, this.values) ?? frame;
      case BackendCode.FunctionCallResponse:
        this.descriptions.backend(frame);
        return this.maskFunctionResult(frame);
      case BackendCode.CopyOutResponse:
        this.copy = decodeCopyResponse(frame).format === 0 ? 'text' : new BinaryCopyMasker(this.values, this.binary);
        return frame;
      case BackendCode.CopyBothResponse:
        // Only replication and similar streams use CopyBoth; their data cannot be masked.
        throw new ProtocolViolation('a CopyBoth stream cannot be masked: the session is closed', '08P01', true);
      case BackendCode.CopyData:
        return this.maskCopyData(frame);
      case BackendCode.CopyDone:
      case BackendCode.CopyInResponse:
        this.endCopy();
        return frame;
      default:
        this.descriptions.backend(frame);
        if (code === BackendCode.CommandComplete || code === BackendCode.ReadyForQuery) this.endCopy();
        return frame;
    }
  }

  private endCopy(): void {
    if (this.copy instanceof BinaryCopyMasker) this.copy.end();
    this.copy = null;
  }

  /**
   * CopyData of COPY TO STDOUT. Text and CSV: the server sends one message per row, so a value
   * never straddles two; the detectors run on each line. Binary: decoded across messages.
   */
  private maskCopyData(frame: Buffer): Buffer {
    const copy = this.copy;
    if (copy === null) return frame;
    if (copy === 'text') {
      const r = this.values.maskBytes(frame, 5, frame.length, Syntax.Plain);
      return r ? frameOf(BackendCode.CopyData, [r]) : frame;
    }
    if (!this.values.enabled) return frame;
    const payload = frame.subarray(5);
    const out = copy.data(payload);
    if (out === payload) return frame;
    // Only part of a tuple so far: nothing to send yet.
    return out.length === 0 ? NOTHING : frameOf(BackendCode.CopyData, [out]);
  }

  /**
   * The result of a FunctionCall (fastpath; policy refuses FunctionCall on guarded connections,
   * this is defence in depth). Its type and format are not known: with column rules it is
   * withheld (NULL), else judged like a cell of an unknown row.
   */
  private maskFunctionResult(frame: Buffer): Buffer {
    if (frame.length < 9) throw badRow('FunctionCallResponse too short');
    const len = frame.readInt32BE(5);
    if (len === -1) return frame;
    if (len < 0 || frame.length !== 9 + len) throw badRow('malformed FunctionCallResponse');
    const r =
      this.plan.columns.size > 0
        ? null
        : maskCell(UNKNOWN_COLUMN, frame, 9, frame.length, this.values, this.binary, this.hasher, this.counters);
    if (r === undefined) return frame;
    if (r === null) this.counters[UNKNOWN_ROW_COUNTER] = (this.counters[UNKNOWN_ROW_COUNTER] ?? 0) + 1;
    const word = Buffer.allocUnsafe(4);
    word.writeInt32BE(r === null ? -1 : r.length);
    return frameOf(BackendCode.FunctionCallResponse, r === null ? [word] : [word, r]);
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
        const r = maskCell(col, frame, pos, pos + len, this.values, this.binary, this.hasher, this.counters);
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
 * Unknown columns under the 'detect' policy: scanned as text (a quoted literal, to be safe), or
 * as a binary value of unknown type when the cell starts with a zero byte (text never does).
 */
const UNKNOWN_COLUMN: ColumnPlan = {
  kind: 'literal',
  format: -1,
  jsonb: false,
  typeOid: 0,
  array: false,
  rule: undefined,
  counter: '',
  detect: true,
  active: true,
};

/** A frame dropped from the output. */
const NOTHING = Buffer.alloc(0);

function badRow(message: string): ProtocolViolation {
  return new ProtocolViolation(message, '08P01', true);
}
