import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type {
  EventDirection,
  EventPayloads,
  KnownEventKind,
  RecordedDecision,
  RecordingSeal,
  RecordingSigner,
  SessionEndPayload,
} from '@warden/recording';
import { FrontendCode } from '@warden/pg-wire';
import type { Logger } from '@warden/runtime';
import type { RecordingOptions } from '../recording-options.js';
import type { RecordingWriter } from '../recording-writer.js';
import type { EndableRecording, EventRecorder } from '../session-recorder.js';
import { Op, OpLogWriter } from './op-log.js';
import { PipelineRunner, type LogMessage, type ReplyMessage } from './pipeline-runner.js';
import type { EndedChain } from './recording-pipeline.js';
import { RowCapFilter, type RowCapSink } from './row-cap-filter.js';

/** How long appended ops may wait before they go to the pipeline, and how many bytes send them at once. */
const SEND_AFTER_MS = 25;
const SEND_AT_BYTES = 64 * 1024;
/** Op bytes the pipeline has not applied yet above which recorded sessions pause (resume under half). */
const MAX_UNAPPLIED_BYTES = 8 * 1024 * 1024;

/** A client CopyData frame: its type byte, and the header before its data. */
const COPY_DATA = FrontendCode.CopyData;
const COPY_DATA_HEADER = 5;

/** Epoch milliseconds with the sub-millisecond part: comparable across threads, unlike performance.now(). */
const TIME_ORIGIN = performance.timeOrigin;
const now = (): number => TIME_ORIGIN + performance.now();

interface PipelineHost {
  send(message: LogMessage): void;
  close(): Promise<void>;
}

/**
 * Takes the recording of Postgres sessions off the gateway's event loop. A session's relay
 * only appends what passed (client frames, server bytes, the gateway's own events) to an op
 * log: a copy and a few integer writes. Every few milliseconds the log is transferred to the
 * recording worker, a worker thread whose RecordingPipeline parses it again, builds the events,
 * encodes and hash-chains them, and sends back chunks ready for the RecordingWriter, which
 * stays here with its retries and backpressure. On a host with a spare core this is most of
 * what recording costs a busy gateway (measured: pgbench -S on 2 cores, recording on/off went
 * from ~0.78x to ~0.9x); its seals are still made here, where the key is.
 *
 * Backpressure covers both stages: while the pipeline is more than MAX_UNAPPLIED_BYTES behind,
 * or the writer's backlog is full, `overloaded` holds and sessions stop reading.
 */
export class RecordingOffload {
  /** @internal The op log sessions append to. */
  readonly log = new OpLogWriter();
  private readonly host: PipelineHost;
  private readonly sessions = new Map<number, OffloadedRecording>();
  private nextHandle = 1;
  private timer: NodeJS.Timeout | null = null;
  private unapplied = 0;
  private behind = false;
  private relieved: (() => void)[] = [];
  private nextFlush = 1;
  private readonly flushes = new Map<number, () => void>();
  private failure: Error | null = null;
  private closing = false;
  private readonly sendNow = (): void => this.send();
  private cachedTime = 0;
  private timeFresh = false;
  private readonly timeStale = (): void => {
    this.timeFresh = false;
  };

  constructor(
    /** @internal */ readonly writer: RecordingWriter,
    /** @internal */ readonly signer: RecordingSigner,
    private readonly logger: Logger,
    options: { inThread?: boolean } = {},
  ) {
    const onReply = (reply: ReplyMessage): void => this.onReply(reply);
    this.host = options.inThread ? inThreadHost(onReply) : this.workerHost(onReply);
  }

  /** True while sessions should stop reading: the pipeline or the writer is too far behind. */
  get overloaded(): boolean {
    return this.behind || this.writer.overloaded || this.failure !== null;
  }

  /** @internal Why the worker stopped, if it did. */
  get failed(): Error | null {
    return this.failure;
  }

  /** Resolves once neither the pipeline nor the writer is overloaded. */
  async whenRelieved(): Promise<void> {
    while (this.overloaded) {
      if (this.writer.overloaded) await this.writer.whenRelieved();
      else await new Promise<void>((resolve) => this.relieved.push(resolve));
    }
  }

  open(sessionId: string, options: RecordingOptions): OffloadedRecording {
    const handle = this.nextHandle++;
    const { maxRows, maxBytes } = options;
    this.log.text(Op.open, handle, now(), JSON.stringify({ sessionId, maxRows, maxBytes }));
    const recording = new OffloadedRecording(this, handle, sessionId, new RowCapFilter(maxRows, maxBytes));
    this.sessions.set(handle, recording);
    this.appended();
    return recording;
  }

  /** Resolves once everything appended before the call is with the writer and written. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    const id = this.nextFlush++;
    const done = new Promise<void>((resolve) => this.flushes.set(id, resolve));
    const request = Buffer.alloc(4);
    request.writeUInt32LE(id);
    this.log.bytes(Op.flush, 0, now(), request);
    this.send();
    await done;
    await this.writer.flush();
  }

  /** Flushes, then stops the worker. */
  async close(): Promise<void> {
    if (!this.failure) await this.flush();
    this.closing = true;
    await this.host.close();
  }

  /**
   * @internal The time ops are stamped with, read once per task: the frames of one socket read
   * share it. Reading the clock for every op was a tenth of what recording costs the event loop.
   */
  time(): number {
    if (!this.timeFresh) {
      this.cachedTime = now();
      this.timeFresh = true;
      queueMicrotask(this.timeStale);
    }
    return this.cachedTime;
  }

  /** @internal Sessions call this after appending. */
  appended(): void {
    if (this.log.size >= SEND_AT_BYTES) this.send();
    else this.timer ??= setTimeout(this.sendNow, SEND_AFTER_MS);
  }

  /** @internal Sends what is appended at once (a session ended, a flush). */
  send(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.log.size === 0 || this.failure) return;
    const message = this.log.take();
    this.unapplied += message.length;
    if (!this.behind && this.unapplied > MAX_UNAPPLIED_BYTES) {
      this.behind = true;
      this.logger.warn(
        { unappliedBytes: this.unapplied },
        'recording worker is behind: pausing clients until it catches up',
      );
    }
    this.host.send(message);
  }

  private onReply(reply: ReplyMessage): void {
    this.unapplied -= reply.ack;
    if (reply.log) this.log.recycle(reply.log);
    if (this.behind && this.unapplied <= MAX_UNAPPLIED_BYTES / 2) {
      this.behind = false;
      this.logger.info('recording worker caught up: clients resume');
      for (const resolve of this.relieved.splice(0)) resolve();
    }
    const output = reply.output;
    if (output) {
      for (const chunk of output.chunks) {
        // A transferred buffer arrives as a plain Uint8Array: the writer hands pg a Buffer (text bytes).
        const events = chunk.events as string | Uint8Array;
        if (typeof events !== 'string' && !Buffer.isBuffer(events)) {
          chunk.events = Buffer.from(events.buffer, events.byteOffset, events.byteLength);
        }
        this.writer.pushChunk(chunk);
      }
      for (const { handle, message } of output.broken) {
        this.logger.warn(
          { sessionId: this.sessions.get(handle)?.sessionId, error: message },
          'the session sent bytes the recording cannot read: the rest of its responses are not recorded',
        );
      }
      for (const ended of output.ended) {
        this.sessions.get(ended.handle)?.chainClosed(ended);
        this.sessions.delete(ended.handle);
      }
    }
    for (const id of reply.flushed) {
      this.flushes.get(id)?.();
      this.flushes.delete(id);
    }
  }

  private workerHost(onReply: (reply: ReplyMessage) => void): PipelineHost {
    const worker = startWorker();
    // Shutdown flushes and stops it explicitly; it must not keep a stopping process alive.
    worker.unref();
    worker.on('message', onReply);
    const failed = (error: Error): void => {
      if (this.closing) return;
      // Fail closed: recorded sessions stop (overloaded holds them) rather than run unrecorded.
      this.failure = error;
      this.logger.error({ err: error }, 'the recording worker failed: recorded sessions are paused');
      for (const recording of this.sessions.values()) recording.chainLost(error);
      for (const resolve of this.flushes.values()) resolve();
      this.flushes.clear();
    };
    worker.on('error', failed);
    worker.on('exit', (code) => failed(new Error(`the recording worker exited (code ${code})`)));
    return {
      send: (message) => worker.postMessage(message, [message.log]),
      close: async () => {
        await worker.terminate();
      },
    };
  }
}

/** Runs the pipeline on this thread (WARDEN_RECORDING_WORKER=off, unit tests): same ops, same results. */
function inThreadHost(onReply: (reply: ReplyMessage) => void): PipelineHost {
  const runner = new PipelineRunner((reply) => setImmediate(() => onReply(reply)));
  return { send: (message) => runner.receive(message), close: () => Promise.resolve() };
}

/**
 * The worker: dist/recording-worker.js beside the running bundle (scripts/build.ts). From sources
 * its module is TypeScript, loaded through tsx as every source run is (test runners do not hand
 * their loaders to worker threads).
 */
function startWorker(): Worker {
  const main = process.argv[1];
  const bundled = main ? path.join(path.dirname(main), 'recording-worker.js') : undefined;
  if (bundled && existsSync(bundled)) return new Worker(pathToFileURL(bundled));
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const source = JSON.stringify(new URL('./recording-worker.ts', import.meta.url).href);
  return new Worker(`import(${tsx}).then(({ tsImport }) => tsImport(${source}, ${source}))`, { eval: true });
}

/**
 * One Postgres session's recording as its relay sees it: append-only calls that cost the relay
 * a copy. Events the gateway may refer to later (a held statement, for its review events) get a
 * token, which stands in for their seq in later events' `ref`: the seq is only known in the
 * pipeline.
 */
export class OffloadedRecording implements EventRecorder, EndableRecording {
  private nextToken = 1;
  private ending: Promise<RecordingSeal> | undefined;
  private closeChain: ((chain: EndedChain) => void) | undefined;
  private loseChain: ((error: Error) => void) | undefined;
  /** When the server bytes being filtered were relayed. */
  private serverTime = 0;
  private readonly serverSink: RowCapSink;

  constructor(
    private readonly offload: RecordingOffload,
    private readonly handle: number,
    readonly sessionId: string,
    private readonly rowCap: RowCapFilter,
  ) {
    const log = offload.log;
    this.serverSink = {
      bytes: (buf, start, end) => log.range(Op.server, handle, this.serverTime, buf, start, end),
      skipped: (rows, bytes) => log.skipped(handle, this.serverTime, rows, bytes),
    };
  }

  /**
   * A whole client message (one frame) and the policy decision it met; returns a token for the
   * statement event it makes when `wantRef`, else 0.
   */
  client(frame: Uint8Array, decision?: RecordedDecision, wantRef = false): number {
    if (this.ending) return 0;
    // COPY FROM STDIN data past the cap stays out of the log; the filter counts it.
    if (frame[0] === COPY_DATA && this.rowCap.skipsCopyIn(frame.length - COPY_DATA_HEADER)) return 0;
    this.reportSkippedCopyIn();
    const token = wantRef ? this.nextToken++ : 0;
    const decisionJson = decision && decision.action !== 'allow' ? JSON.stringify(decision) : '';
    this.offload.log.client(this.handle, this.offload.time(), token, decisionJson, frame);
    this.offload.appended();
    return token;
  }

  /** Server bytes exactly as the client received them (rows past the capture cap only counted). */
  server(bytes: Buffer): void {
    if (this.ending) return;
    this.serverTime = this.offload.time();
    this.rowCap.push(bytes, this.serverSink);
    this.offload.appended();
  }

  /** Records an event of the gateway's own; returns the token later events pass as `ref`. */
  record<K extends KnownEventKind>(direction: EventDirection, kind: K, payload: EventPayloads[K]): number {
    if (this.ending) return 0;
    this.reportSkippedCopyIn();
    const token = this.nextToken++;
    this.offload.log.numberedText(
      Op.event,
      this.handle,
      this.offload.time(),
      token,
      JSON.stringify({ d: direction, k: kind, p: payload }),
    );
    this.offload.appended();
    return token;
  }

  /** Records the end, waits for the chain to be written and returns its seal. */
  end(payload: SessionEndPayload): Promise<RecordingSeal> {
    this.ending ??= (async () => {
      const chain = await new Promise<EndedChain>((resolve, reject) => {
        if (this.offload.failed) return reject(this.offload.failed);
        this.closeChain = resolve;
        this.loseChain = reject;
        this.reportSkippedCopyIn();
        this.offload.log.text(Op.end, this.handle, now(), JSON.stringify(payload));
        this.offload.send();
      });
      await this.offload.writer.flush();
      return this.offload.signer.seal(this.sessionId, chain.lastSeq, chain.lastHash);
    })();
    return this.ending;
  }

  /** Logs the COPY data left out so far ahead of the session's next op: it counts into the COPY's result. */
  private reportSkippedCopyIn(): void {
    this.rowCap.reportSkipped(this.serverSink);
  }

  /** @internal */
  chainClosed(chain: EndedChain): void {
    this.closeChain?.(chain);
  }

  /** @internal */
  chainLost(error: Error): void {
    this.loseChain?.(error);
  }
}
