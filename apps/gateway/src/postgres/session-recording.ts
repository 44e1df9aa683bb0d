import {
  BackendCode,
  decodeCommandComplete,
  decodeCopyResponse,
  decodeErrorResponse,
  decodeNoticeResponse,
  decodeNotificationResponse,
  decodeRowDescription,
  formatCode,
  mapDataRow,
  type BindMessage,
  type ExecuteMessage,
  type ParseMessage,
} from '@warden/pg-wire';
import type { ExecutePayload, RecordedCell, RecordedDecision, ResultPayload } from '@warden/recording';
import type { RecordingOptions } from '../recording/recording-options.js';
import type { EventRecorder } from '../recording/session-recorder.js';
import { MAX_NAMES } from './review-hold.js';

/** Longest statement text or parameter recorded as is; longer ones are cut and flagged. */
const MAX_TEXT = 1024 * 1024;

/** A request whose response has not finished yet, in the order the server answers. */
interface Pending {
  kind: 'query' | 'execute' | 'sync';
  seq: number;
  started: number;
  /** Result column formats from Bind (execute only). */
  formats?: number[];
}

interface Prepared {
  text: string;
  decision: RecordedDecision;
}

interface Portal extends Prepared {
  statement: string;
  params: RecordedCell[];
  formats: number[];
  truncated: boolean;
}

/** The response being collected for the statement at the head of the queue. */
interface Collecting {
  columns?: { name: string; typeOid: number }[];
  rows: RecordedCell[][];
  rowCount: number;
  bytes: number;
  capturedBytes: number;
  truncated: boolean;
  copy?: { direction: 'in' | 'out'; binary: boolean; data: string[] };
}

const ALLOW: RecordedDecision = { action: 'allow' };
const NO_FORMATS: number[] = [];

/**
 * Turns one Postgres session's traffic into recording events: the client's
 * statements (with their parameters and policy decisions) as they arrive, and the
 * server's answers as the client received them — already masked by the agent, with
 * policy errors already substituted — paired with the statement they answer by
 * following the protocol's own ordering (one answer per Execute, up to Sync).
 */
export class PostgresSessionRecording {
  private readonly pending: Pending[] = [];
  private readonly statements = new Map<string, Prepared>();
  private readonly portals = new Map<string, Portal>();
  private current: Collecting = emptyCollecting();
  private lastRowDescription: Buffer | undefined;
  private lastColumns: { name: string; typeOid: number }[] = [];

  /** `now` (ms) times statements; in the recording worker it is the time their bytes were relayed. */
  constructor(
    private readonly recorder: EventRecorder,
    private readonly options: RecordingOptions,
    private readonly now: () => number = () => performance.now(),
  ) {}

  // ---- client → server -------------------------------------------------------

  /** Returns the event's seq, which later events (results, reviews) refer to. */
  query(text: string, decision: RecordedDecision = ALLOW): number {
    const seq = this.recorder.record('client', 'query', { text: cut(text), decision });
    this.pending.push({ kind: 'query', seq, started: this.now() });
    return seq;
  }

  functionCall(functionOid: number): void {
    this.query(`-- fast-path function call (oid ${functionOid})`);
  }

  parse(message: ParseMessage, decision: RecordedDecision = ALLOW): void {
    if (this.statements.size >= MAX_NAMES && !this.statements.has(message.name)) return;
    this.statements.set(message.name, { text: message.query, decision });
    // The unnamed statement shows up with its Execute; named ones are worth an event of their own.
    if (message.name !== '' || decision.action !== 'allow') {
      this.recorder.record('client', 'prepare', { name: message.name, text: cut(message.query), decision });
    }
  }

  bind(message: BindMessage): void {
    if (this.portals.size >= MAX_NAMES && !this.portals.has(message.portal)) return;
    const prepared = this.statements.get(message.statement) ?? { text: '', decision: ALLOW };
    let budget = MAX_TEXT;
    let truncated = false;
    const params = message.params.map((value, i): RecordedCell => {
      if (value === null) return null;
      const binary = formatCode(message.paramFormats, i) === 1;
      const slice = value.length > budget ? value.subarray(0, budget) : value;
      if (slice !== value) truncated = true;
      budget -= slice.length;
      return cell(slice, binary);
    });
    // Fields spelled out: spreading `prepared` here cost ~3 µs per Bind (V8 clones a
    // non-literal object through its slow path), a tenth of the recording's cost per statement.
    this.portals.set(message.portal, {
      text: prepared.text,
      decision: prepared.decision,
      statement: message.statement,
      params,
      formats: message.resultFormats,
      truncated,
    });
  }

  close(target: 'S' | 'P', name: string): void {
    (target === 'S' ? this.statements : this.portals).delete(name);
  }

  /** Returns the event's seq, which later events (results, reviews) refer to. */
  execute(message: ExecuteMessage): number {
    const portal = this.portals.get(message.portal);
    const payload: ExecutePayload = {
      statement: portal?.statement ?? '',
      portal: message.portal,
      text: cut(portal?.text ?? ''),
      params: portal?.params ?? [],
      decision: portal?.decision ?? ALLOW,
    };
    if (portal?.truncated) payload.truncated = true;
    const seq = this.recorder.record('client', 'execute', payload);
    this.pending.push({ kind: 'execute', seq, started: this.now(), formats: portal?.formats ?? [] });
    return seq;
  }

  sync(): void {
    this.pending.push({ kind: 'sync', seq: 0, started: this.now() });
  }

  /** COPY FROM STDIN data, counted (and captured up to the cap) into the COPY's result. */
  copyData(data: Buffer): void {
    if (this.current.copy?.direction === 'in') this.collectCopy(data);
  }

  // ---- server → client (frames exactly as the client receives them) ----------

  /**
   * One server frame, lying at `buf[start, end)` (a FrameView): the frames every statement
   * brings (DataRow, RowDescription, CommandComplete, ReadyForQuery) are read in place, without a
   * Buffer of their own; the rarer ones are cut out for their decoders.
   */
  serverFrameAt(buf: Buffer, start: number, end: number): void {
    switch (buf[start]) {
      case BackendCode.DataRow:
        this.collectRow(buf, start, end);
        return;
      case BackendCode.RowDescription:
        this.current.columns = this.columnsOf(buf, start, end);
        return;
      case BackendCode.ReadyForQuery:
        this.readyForQuery();
        return;
      case BackendCode.CommandComplete:
        // The tag is one C string filling the body; anything else is decoded (and refused) properly.
        if (end - start > 5 && buf[end - 1] === 0 && buf.indexOf(0, start + 5) === end - 1) {
          this.finishResult(buf.toString('utf8', start + 5, end - 1));
          return;
        }
        break;
      case BackendCode.ParseComplete:
      case BackendCode.BindComplete:
      case BackendCode.NoData:
      case BackendCode.CloseComplete:
        return;
    }
    this.otherFrame(buf.subarray(start, end));
  }

  /** Data rows the client received that the gateway left out of the log past the capture cap: counted only. */
  skippedRows(rows: number, bytes: number): void {
    const c = this.current;
    c.rowCount += rows;
    c.bytes += bytes;
    c.truncated = true;
  }

  private otherFrame(frame: Buffer): void {
    switch (frame[0]) {
      case BackendCode.CopyData:
        this.collectCopy(frame.subarray(5));
        break;
      case BackendCode.CommandComplete:
        this.finishResult(decodeCommandComplete(frame));
        break;
      case BackendCode.EmptyQueryResponse:
        this.finishResult('');
        break;
      case BackendCode.PortalSuspended:
        this.finishResult('(portal suspended)');
        break;
      case BackendCode.CopyInResponse:
      case BackendCode.CopyOutResponse: {
        const { format } = decodeCopyResponse(frame);
        this.current.copy = {
          direction: frame[0] === BackendCode.CopyInResponse ? 'in' : 'out',
          binary: format === 1,
          data: [],
        };
        break;
      }
      case BackendCode.ErrorResponse:
        this.error(frame);
        break;
      case BackendCode.NoticeResponse: {
        const n = decodeNoticeResponse(frame);
        this.recorder.record('server', 'notice', { code: n.code, message: n.message, severity: n.severity });
        break;
      }
      case BackendCode.NotificationResponse: {
        const n = decodeNotificationResponse(frame);
        this.recorder.record('server', 'notification', {
          channel: n.channel,
          payload: n.payload,
          processId: n.processId,
        });
        break;
      }
      default:
      // ParameterDescription, ParameterStatus, CopyDone: nothing a reader of the recording needs.
    }
  }

  /** Sessions repeat the same few result shapes: decode a RowDescription once per distinct frame. */
  private columnsOf(buf: Buffer, start: number, end: number): { name: string; typeOid: number }[] {
    const last = this.lastRowDescription;
    if (last && last.length === end - start && buf.compare(last, 0, last.length, start, end) === 0) {
      return this.lastColumns;
    }
    const frame = buf.subarray(start, end);
    this.lastColumns = decodeRowDescription(frame).map((f) => ({ name: f.name, typeOid: f.dataTypeOID }));
    this.lastRowDescription = Buffer.from(frame);
    return this.lastColumns;
  }

  private head(): Pending | undefined {
    const head = this.pending[0];
    return head && head.kind !== 'sync' ? head : undefined;
  }

  private collectRow(buf: Buffer, start: number, end: number): void {
    const c = this.current;
    const size = end - start;
    c.rowCount += 1;
    c.bytes += size;
    if (c.truncated) return;
    if (c.rows.length >= this.options.maxRows || c.capturedBytes + size > this.options.maxBytes) {
      c.truncated = true;
      return;
    }
    c.capturedBytes += size;
    this.rowFormats = this.head()?.formats ?? NO_FORMATS;
    c.rows.push(mapDataRow(buf, start, end, this.cellOf));
  }

  /** Result column formats of the statement whose rows are being collected (read by cellOf). */
  private rowFormats: number[] = NO_FORMATS;
  private readonly cellOf = (buf: Buffer, from: number, to: number, column: number): RecordedCell =>
    cellAt(buf, from, to, formatCode(this.rowFormats, column) === 1);

  private collectCopy(data: Buffer): void {
    const c = this.current;
    c.rowCount += 1;
    c.bytes += data.length;
    if (c.truncated || !c.copy) return;
    if (c.copy.binary) return;
    if (c.copy.data.length >= this.options.maxRows || c.capturedBytes + data.length > this.options.maxBytes) {
      c.truncated = true;
      return;
    }
    c.capturedBytes += data.length;
    c.copy.data.push(data.includes(0) ? `\\x${data.toString('hex')}` : data.toString('utf8'));
  }

  private finishResult(tag: string): void {
    const head = this.head();
    const c = this.current;
    const payload: ResultPayload = {
      ref: head?.seq ?? null,
      tag,
      rowCount: c.rowCount,
      bytes: c.bytes,
      ms: head ? Math.round((this.now() - head.started) * 1000) / 1000 : 0,
    };
    if (c.columns) payload.columns = c.columns;
    if (c.copy) payload.copy = { direction: c.copy.direction, data: c.copy.data };
    else if (c.columns || c.rows.length) payload.rows = c.rows;
    if (c.truncated) payload.truncated = true;
    this.recorder.record('server', 'result', payload);
    this.current = emptyCollecting();
    // A simple Query may hold several statements: it stays until ReadyForQuery.
    if (head?.kind === 'execute') this.pending.shift();
  }

  private error(frame: Buffer): void {
    const head = this.head();
    const e = decodeErrorResponse(frame);
    this.recorder.record('server', 'error', {
      ref: head?.seq ?? null,
      code: e.code,
      message: e.message,
      severity: e.severity,
      ...(e.detail ? { detail: e.detail } : {}),
      ...(e.hint ? { hint: e.hint } : {}),
      ...(head ? { ms: Math.round((this.now() - head.started) * 1000) / 1000 } : {}),
    });
    this.current = emptyCollecting();
    // After an error the server skips everything up to the next Sync.
    if (head?.kind === 'execute') {
      while (this.pending[0] && this.pending[0].kind === 'execute') this.pending.shift();
    }
  }

  private readyForQuery(): void {
    while (this.pending.length) {
      const entry = this.pending.shift()!;
      if (entry.kind !== 'execute') break;
    }
    this.current = emptyCollecting();
  }
}

function emptyCollecting(): Collecting {
  return { rows: [], rowCount: 0, bytes: 0, capturedBytes: 0, truncated: false };
}

/** Text cells as text; binary values, and text that cannot be stored as text (NUL), as base64. */
function cell(value: Buffer, binary: boolean): RecordedCell {
  return cellAt(value, 0, value.length, binary);
}

/** cell() for the value at `buf[from, to)`. */
function cellAt(buf: Buffer, from: number, to: number, binary: boolean): RecordedCell {
  if (binary || hasNul(buf, from, to)) return { b64: buf.toString('base64', from, to) };
  return buf.toString('utf8', from, to);
}

function hasNul(buf: Buffer, from: number, to: number): boolean {
  // A short loop beats a native call for the small values most cells hold.
  if (to - from > 64) return buf.subarray(from, to).includes(0);
  for (let i = from; i < to; i++) if (buf[i] === 0) return true;
  return false;
}

function cut(text: string): string {
  return text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text;
}
