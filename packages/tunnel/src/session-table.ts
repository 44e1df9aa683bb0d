import type { Batch, Close, Credit, Data, Report } from '@warden/proto';
import type { SessionTransport } from './session-transport.js';
import type { TunnelError } from './tunnel-error.js';
import { TunnelStream } from './tunnel-stream.js';

export interface SessionTableOptions {
  receiveWindow: number;
  maxFrameBytes: number;
}

/** The live sessions of one agent stream, and the routing of session frames to them. */
export class SessionTable {
  private readonly sessions = new Map<string, TunnelStream>();

  constructor(
    private readonly transport: SessionTransport,
    private readonly options: SessionTableOptions,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  has(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  create(sessionId: string, initialSendCredit = 0): TunnelStream {
    const stream = new TunnelStream({
      sessionId,
      transport: this.transport,
      receiveWindow: this.options.receiveWindow,
      initialSendCredit,
      maxFrameBytes: this.options.maxFrameBytes,
      onClosed: (s) => {
        if (this.sessions.get(s.sessionId) === s) this.sessions.delete(s.sessionId);
      },
    });
    this.sessions.set(sessionId, stream);
    return stream;
  }

  get(sessionId: string): TunnelStream | undefined {
    return this.sessions.get(sessionId);
  }

  // Frames for unknown sessions are dropped silently: they are the normal race
  // after one side aborted a session the other was still writing to, and they are
  // bounded by the credit the peer had.
  data(frame: Data): void {
    const data = frame.data;
    // The gRPC deserializer hands us subarrays of Buffers; make sure consumers get Buffers.
    this.sessions
      .get(frame.sessionId)
      ?.handleData(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  credit(frame: Credit): void {
    this.sessions.get(frame.sessionId)?.handleCredit(frame.bytes);
  }

  close(frame: Close): void {
    this.sessions.get(frame.sessionId)?.handleClose(frame);
  }

  report(frame: Report): void {
    const p = frame.payload;
    this.sessions
      .get(frame.sessionId)
      ?.handleReport(frame.kind, Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  }

  /**
   * Routes a session frame (Data, Credit, Close, Report, or a Batch of them, in order, exactly as
   * if each had arrived on its own). False for any other frame, which the caller handles.
   * Both ends of the tunnel call this, so the session frame set lives in one place.
   */
  route(body: { case: string | undefined; value?: unknown }): boolean {
    switch (body.case) {
      case 'data':
        this.data(body.value as Data);
        return true;
      case 'credit':
        this.credit(body.value as Credit);
        return true;
      case 'close':
        this.close(body.value as Close);
        return true;
      case 'report':
        this.report(body.value as Report);
        return true;
      case 'batch':
        // Unknown frame types inside a batch come from a newer peer; ignore them like top-level ones.
        for (const { frame } of (body.value as Batch).frames) this.route(frame);
        return true;
      default:
        return false;
    }
  }

  /** The agent stream is gone: every live session fails with `err`. */
  failAll(err: TunnelError): void {
    for (const stream of [...this.sessions.values()]) stream.handleTransportLost(err);
    this.sessions.clear();
  }
}
