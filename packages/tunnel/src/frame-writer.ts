import type { Batch, Close, Credit, Data, Report, SessionFrame } from '@warden/proto';
import type { Writable } from 'node:stream';
import type { SessionTransport } from './session-transport.js';

/** The session-level frame bodies both AgentFrame and GatewayFrame carry. */
export type SessionFrameBody =
  | { case: 'data'; value: Data }
  | { case: 'credit'; value: Credit }
  | { case: 'close'; value: Close }
  | { case: 'report'; value: Report };

/** What `wrap` turns into the side's own frame type: a session frame, or a Batch of them. */
export type WrappableBody = SessionFrameBody | { case: 'batch'; value: Batch };

/**
 * A batch is flushed at once when its payload reaches this size, so one batch stays
 * far below grpc-js's default 4 MiB receive limit and big transfers are not held back.
 */
export const MAX_BATCH_BYTES = 256 * 1024;

/**
 * Writes frames onto one side's gRPC call and implements SessionTransport for the
 * sessions multiplexed on it. `wrap` turns a session frame body into the side's
 * own frame type. Message objects are built as plain literals: protobuf-es v2
 * messages are plain objects, and skipping create() keeps the data path lean.
 *
 * Batching (once enableBatching() was called, i.e. the peer speaks protocol >= 2):
 * session frames (Data, Credit, Close, Report) are queued and flushed together as ONE gRPC
 * message at the end of the event-loop turn (setImmediate), so the frames that all
 * sessions produce from the socket reads of one poll phase share one message.
 * grpc-js costs far more per message than per byte, so this is where most of the
 * tunnel's CPU goes for small request/response traffic. Order is kept: a frame
 * sent with send() (handshake, open, heartbeat) first flushes what is queued.
 *
 * Measured alternatives: queueMicrotask batches nothing between processes (each
 * socket read is its own macrotask); deferring a further turn under load batched
 * more but did not measurably help. The cost: Node runs HTTP/2's actual send as a
 * native immediate, before JS immediates, so a flushed batch reaches the socket one
 * loop iteration later than a direct write would; a lone busy session pays a few µs
 * of CPU per message for that (in-process ping-pong: ~35 → ~40 µs per round trip).
 */
export class FrameWriter<F extends object> implements SessionTransport {
  private drainPromise: Promise<void> | null = null;
  private batching = false;
  private pending: SessionFrame[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;
  private readonly scheduledFlush = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  constructor(
    private readonly call: Writable,
    private readonly wrap: (body: WrappableBody) => F,
  ) {}

  /** From now on, coalesce session frames into Batch messages (the peer understands them). */
  enableBatching(): void {
    this.batching = true;
  }

  /** Writes any frame, after whatever session frames are queued; false when the call's buffer is full. */
  send(frame: F): boolean {
    if (this.pending.length > 0) this.flush();
    return this.write(frame);
  }

  sendData(sessionId: string, data: Uint8Array): boolean {
    return this.queue(
      { case: 'data', value: { $typeName: 'warden.tunnel.v1.Data', sessionId, data } },
      data.byteLength,
    );
  }

  sendCredit(sessionId: string, bytes: number): void {
    this.queue({ case: 'credit', value: { $typeName: 'warden.tunnel.v1.Credit', sessionId, bytes } }, 0);
  }

  sendClose(sessionId: string, close: { abort: boolean; reason?: string; code?: string }): void {
    this.queue(
      {
        case: 'close',
        value: {
          $typeName: 'warden.tunnel.v1.Close',
          sessionId,
          abort: close.abort,
          reason: close.reason ?? '',
          code: close.code ?? '',
        },
      },
      0,
    );
  }

  sendReport(sessionId: string, kind: string, payload: Uint8Array): void {
    // Counted like Data towards MAX_BATCH_BYTES: a large report must not make one batch huge.
    this.queue(
      { case: 'report', value: { $typeName: 'warden.tunnel.v1.Report', sessionId, kind, payload } },
      payload.byteLength,
    );
  }

  /** Writes the queued session frames now (one gRPC message); false when the call's buffer is full. */
  flush(): boolean {
    const frames = this.pending;
    if (frames.length === 0) return !this.call.writableNeedDrain;
    this.pending = [];
    this.pendingBytes = 0;
    const only = frames.length === 1 ? frames[0] : undefined;
    // A lone frame goes as itself: same cost, smaller, and what a version-1 peer would see.
    if (only) return this.write(this.wrap(only.frame as SessionFrameBody));
    return this.write(this.wrap({ case: 'batch', value: { $typeName: 'warden.tunnel.v1.Batch', frames } }));
  }

  drained(): Promise<void> {
    if (!this.call.writable || !this.call.writableNeedDrain) return Promise.resolve();
    // One shared promise per drain cycle: hundreds of blocked sessions must not
    // each add listeners to the call.
    this.drainPromise ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.call.off('drain', done);
        this.call.off('close', done);
        this.call.off('finish', done);
        this.drainPromise = null;
        resolve();
      };
      this.call.on('drain', done);
      this.call.on('close', done);
      this.call.on('finish', done);
    });
    return this.drainPromise;
  }

  /** Frames for a finished call are dropped. */
  private write(frame: F): boolean {
    if (!this.call.writable) return true;
    return this.call.write(frame);
  }

  private queue(body: SessionFrameBody, bytes: number): boolean {
    if (!this.batching) return this.write(this.wrap(body));
    if (!this.call.writable) return true;
    this.pending.push({ $typeName: 'warden.tunnel.v1.SessionFrame', frame: body });
    this.pendingBytes += bytes;
    if (this.pendingBytes >= MAX_BATCH_BYTES) return this.flush();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.scheduledFlush);
    }
    // The queued frame costs the call nothing yet; report the call's own state.
    return !this.call.writableNeedDrain;
  }
}
