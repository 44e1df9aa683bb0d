import type { Close, Credit, Data } from '@warden/proto';
import type { Writable } from 'node:stream';
import type { SessionTransport } from './session-transport.js';

/** The session-level frame bodies both AgentFrame and GatewayFrame carry. */
export type SessionFrameBody =
  { case: 'data'; value: Data } | { case: 'credit'; value: Credit } | { case: 'close'; value: Close };

/**
 * Writes frames onto one side's gRPC call and implements SessionTransport for the
 * sessions multiplexed on it. `wrap` turns a session frame body into the side's
 * own frame type. Message objects are built as plain literals: protobuf-es v2
 * messages are plain objects, and skipping create() keeps the data path lean.
 */
export class FrameWriter<F extends object> implements SessionTransport {
  private drainPromise: Promise<void> | null = null;

  constructor(
    private readonly call: Writable,
    private readonly wrap: (body: SessionFrameBody) => F,
  ) {}

  /** Writes any frame; false when the call's buffer is full. Frames for a finished call are dropped. */
  send(frame: F): boolean {
    if (!this.call.writable) return true;
    return this.call.write(frame);
  }

  sendData(sessionId: string, data: Uint8Array): boolean {
    return this.send(this.wrap({ case: 'data', value: { $typeName: 'warden.tunnel.v1.Data', sessionId, data } }));
  }

  sendCredit(sessionId: string, bytes: number): void {
    this.send(this.wrap({ case: 'credit', value: { $typeName: 'warden.tunnel.v1.Credit', sessionId, bytes } }));
  }

  sendClose(sessionId: string, close: { abort: boolean; reason?: string; code?: string }): void {
    this.send(
      this.wrap({
        case: 'close',
        value: {
          $typeName: 'warden.tunnel.v1.Close',
          sessionId,
          abort: close.abort,
          reason: close.reason ?? '',
          code: close.code ?? '',
        },
      }),
    );
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
}
