import { BackendSplitter, decodeFrontendFrame, FrameView, FrontendCode, typeTable } from '@warden/pg-wire';
import type { KnownEventKind, RecordedDecision, SessionEndPayload } from '@warden/recording';
import { PostgresSessionRecording } from '../../postgres/session-recording.js';
import { ChunkBuilder, type PreparedChunk } from '../chunks.js';
import { SessionRecorder } from '../session-recorder.js';
import { Op, readOps } from './op-log.js';

/** Client message types the recording reads (see PipelineSession.client); the rest are passed over. */
const RECORDED = typeTable([
  FrontendCode.Query,
  FrontendCode.Parse,
  FrontendCode.Bind,
  FrontendCode.Execute,
  FrontendCode.FunctionCall,
  FrontendCode.Sync,
  FrontendCode.Close,
  FrontendCode.CopyData,
]);

/** A session whose chain was closed: what its seal is made from. */
export interface EndedChain {
  handle: number;
  lastSeq: number;
  lastHash: string;
}

/** What the pipeline hands back to the gateway's event loop. */
export interface PipelineOutput {
  chunks: PreparedChunk[];
  ended: EndedChain[];
  /** Sessions whose server bytes stopped making sense; their responses are no longer recorded. */
  broken: { handle: number; message: string }[];
}

/**
 * One recorded Postgres session inside the pipeline: it parses the session's traffic again from
 * the op log (cheap next to everything else the recording does) and records through the same
 * PostgresSessionRecording the gateway used before, timed by when the bytes were relayed.
 */
class PipelineSession {
  readonly recorder: SessionRecorder;
  readonly recording: PostgresSessionRecording;
  readonly chunks: ChunkBuilder;
  /** Tokens the gateway handed out for events it may refer to later (reviews), and their seqs. */
  readonly tokens = new Map<number, number>();
  private readonly splitter = new BackendSplitter();
  private readonly view = new FrameView();
  /** Set when the session's bytes stopped parsing: nothing more of it is recorded. */
  broken = false;

  constructor(sessionId: string, options: { maxRows: number; maxBytes: number }, clock: () => number) {
    this.chunks = new ChunkBuilder(sessionId);
    this.recorder = new SessionRecorder(sessionId, this.chunks, undefined, clock);
    this.recording = new PostgresSessionRecording(this.recorder, { enabled: true, ...options }, clock);
  }

  /** A client op: u32 token | u32 decision length | decision JSON | one whole frame (op-log.ts). */
  client(log: Buffer, start: number, end: number): void {
    if (this.broken) return;
    const token = log.readUInt32LE(start);
    const decisionLength = log.readUInt32LE(start + 4);
    const frameStart = start + 8 + decisionLength;
    // Each op holds exactly one frame: decoded where it lies, no stream parser needed.
    if (!RECORDED[log[frameStart]!]) return;
    const decision: RecordedDecision | undefined = decisionLength
      ? (JSON.parse(log.toString('utf8', start + 8, frameStart)) as RecordedDecision)
      : undefined;
    const message = decodeFrontendFrame(log.subarray(frameStart, end));
    const recording = this.recording;
    let seq: number | undefined;
    switch (message.kind) {
      case 'query':
        seq = recording.query(message.text, decision);
        break;
      case 'parse':
        recording.parse(message, decision);
        break;
      case 'bind':
        recording.bind(message);
        break;
      case 'execute':
        seq = recording.execute(message);
        break;
      case 'functionCall':
        recording.functionCall(message.functionOid);
        break;
      case 'sync':
        recording.sync();
        break;
      case 'close':
        recording.close(message.target, message.name);
        break;
      case 'copyData':
        recording.copyData(message.data);
        break;
      default:
    }
    if (token && seq !== undefined) this.tokens.set(token, seq);
  }

  /** Lets go of the op log just read: a partial frame is copied out, so the log can be reused. */
  detach(): void {
    this.splitter.detach();
  }

  server(log: Buffer, start: number, end: number): void {
    if (this.broken) return;
    const view = this.view;
    this.splitter.push(log.subarray(start, end));
    while (this.splitter.next(view)) this.recording.serverFrameAt(view.buffer, view.start, view.end);
  }

  event(log: Buffer, start: number, end: number): void {
    const token = log.readUInt32LE(start);
    const { d, k, p } = JSON.parse(log.toString('utf8', start + 4, end)) as {
      d: 'client' | 'server' | 'gateway';
      k: KnownEventKind;
      p: Record<string, unknown>;
    };
    // Refs name an event by the token the gateway got for it; the chain needs its seq.
    if (typeof p.ref === 'number') p.ref = this.tokens.get(p.ref) ?? null;
    const seq = this.recorder.record(d, k, p as never);
    if (token) this.tokens.set(token, seq);
  }
}

/**
 * The recording's work for Postgres sessions, off the gateway's event loop: it reads the op
 * log the sessions appended to (op-log.ts), turns it into events exactly as the gateway did
 * inline (same classes, same encoding and hash chain), and gathers them into per-session
 * chunks for the gateway's RecordingWriter, which keeps the writing, its retries and
 * backpressure. It runs in the recording worker (recording-worker.ts), or in the gateway's
 * thread when the worker is turned off.
 */
export class RecordingPipeline {
  private readonly sessions = new Map<number, PipelineSession>();
  /** The time of the op being read: what recorded events and statement timings use. */
  private time = 0;
  private readonly clock = (): number => this.time;
  private ended: EndedChain[] = [];
  private broken: PipelineOutput['broken'] = [];
  private readonly finished: PreparedChunk[] = [];
  /** Flush requests met in the log being consumed. */
  private flushRequests: number[] = [];
  private readonly visit = (op: number, handle: number, time: number, log: Buffer, start: number, end: number): void =>
    this.apply(op, handle, time, log, start, end);

  /** Events waiting in chunks not yet taken. */
  get waiting(): number {
    let n = 0;
    for (const session of this.sessions.values()) n += session.chunks.size;
    return n;
  }

  /** Applies one op log, after which nothing refers to it; returns the flush request ids it held. */
  consume(log: Buffer): number[] {
    this.flushRequests = [];
    readOps(log, this.visit);
    for (const session of this.sessions.values()) session.detach();
    return this.flushRequests;
  }

  /** Everything recorded so far, as chunks, with the chains that were closed. */
  take(): PipelineOutput {
    const chunks = this.finished.splice(0);
    for (const session of this.sessions.values()) {
      const chunk = session.chunks.take();
      if (chunk) chunks.push(chunk);
    }
    const out = { chunks, ended: this.ended, broken: this.broken };
    this.ended = [];
    this.broken = [];
    return out;
  }

  /** Whether take() has something that must not wait (a closed chain, a broken session). */
  get urgent(): boolean {
    return this.ended.length > 0 || this.broken.length > 0;
  }

  private apply(op: number, handle: number, time: number, log: Buffer, start: number, end: number): void {
    this.time = time;
    if (op === Op.open) {
      const { sessionId, maxRows, maxBytes } = JSON.parse(log.toString('utf8', start, end)) as {
        sessionId: string;
        maxRows: number;
        maxBytes: number;
      };
      this.sessions.set(handle, new PipelineSession(sessionId, { maxRows, maxBytes }, this.clock));
      return;
    }
    if (op === Op.flush) {
      this.flushRequests.push(log.readUInt32LE(start));
      return;
    }
    const session = this.sessions.get(handle);
    if (!session) return;
    try {
      this.applyTo(session, op, handle, log, start, end);
    } catch (error) {
      // The gateway parsed these bytes before; if they still make no sense, this session's
      // recording stops here, and says so, rather than every session's.
      session.broken = true;
      this.broken.push({ handle, message: (error as Error).message });
    }
  }

  private applyTo(session: PipelineSession, op: number, handle: number, log: Buffer, start: number, end: number): void {
    switch (op) {
      case Op.client:
        session.client(log, start, end);
        break;
      case Op.server:
        session.server(log, start, end);
        break;
      case Op.event:
        session.event(log, start, end);
        break;
      case Op.skipped:
        if (!session.broken) session.recording.skippedRows(log.readUInt32LE(start), log.readDoubleLE(start + 4));
        break;
      case Op.end: {
        const { lastSeq, lastHash } = session.recorder.finish(
          JSON.parse(log.toString('utf8', start, end)) as SessionEndPayload,
        );
        const chunk = session.chunks.take();
        if (chunk) this.finished.push(chunk);
        this.ended.push({ handle, lastSeq, lastHash });
        this.sessions.delete(handle);
        break;
      }
      default:
    }
  }
}
