import { Duplex } from 'node:stream';
import { ReceiveWindow, SendCredit } from './credit-window.js';
import type { SessionTransport } from './session-transport.js';
import { TunnelError } from './tunnel-error.js';

export const DEFAULT_WINDOW_BYTES = 256 * 1024;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

/** Reports held for a session nobody listens to yet (see onReport); beyond this they are dropped. */
const MAX_HELD_REPORTS = 64;
const MAX_HELD_REPORT_BYTES = 4 * 1024 * 1024;

/** Receives a session's reports: out-of-band facts from the peer, e.g. "facts", "masked". */
export type ReportHandler = (kind: string, payload: Buffer) => void;

export interface TunnelStreamOptions {
  sessionId: string;
  transport: SessionTransport;
  /** Bytes the peer may have in flight towards us (and we may buffer) for this session. */
  receiveWindow: number;
  /** Credit the peer already granted us; 0 until the open handshake delivers it. */
  initialSendCredit: number;
  /** Largest Data payload per frame; bigger writes are split so one session cannot hog the shared stream. */
  maxFrameBytes: number;
  /** Called once when the stream is destroyed, so the owner can forget the session. */
  onClosed: (stream: TunnelStream) => void;
}

/**
 * One multiplexed session as a binary Duplex, the same on gateway and agent.
 *
 * - write(chunk) → one Data frame per chunk (split only above maxFrameBytes or the
 *   available credit); the write callback fires once the frame was handed to gRPC
 *   and gRPC is not backed up, so Writable backpressure covers both the peer's
 *   credit and the shared HTTP/2 stream.
 * - Readable side is fed by the peer's Data frames; credit goes back to the peer as
 *   the consumer drains the readable buffer (see ReceiveWindow).
 * - end() → Close (graceful half-close); peer Close → readable 'end';
 *   destroy(err) → Close{abort, reason}; peer abort with a reason → 'error'.
 * - report(kind, payload) → Report, outside the payload and its credit; the peer's
 *   reports go to the onReport handler (held until one is set).
 *
 * As with any Node stream, attach an 'error' listener (or use pipeline()).
 */
export class TunnelStream extends Duplex {
  readonly sessionId: string;
  private readonly transport: SessionTransport;
  private readonly receiveWindow: ReceiveWindow;
  private readonly sendCredit: SendCredit;
  private readonly maxFrameBytes: number;
  private readonly onClosed: (stream: TunnelStream) => void;
  private localEnded = false;
  private remoteEnded = false;
  /** Set when the peer already knows the session is over, so _destroy must not send Close. */
  private remoteGone = false;
  private reportHandler: ReportHandler | null = null;
  /** The peer's reports that arrived before onReport (an agent reports while the session opens). */
  private heldReports: { kind: string; payload: Buffer }[] = [];
  private heldReportBytes = 0;

  constructor(options: TunnelStreamOptions) {
    // The readable high-water mark does not bound anything here (credit does); it only
    // decides how eagerly Node asks for more. Keep it well under the window.
    const readableHighWaterMark = Math.max(1, Math.min(64 * 1024, Math.floor(options.receiveWindow / 2)));
    super({ allowHalfOpen: true, readableHighWaterMark, decodeStrings: true });
    this.sessionId = options.sessionId;
    this.transport = options.transport;
    this.receiveWindow = new ReceiveWindow(options.receiveWindow);
    this.sendCredit = new SendCredit(options.initialSendCredit);
    this.maxFrameBytes = options.maxFrameBytes;
    this.onClosed = options.onClosed;
  }

  /** Bytes the peer currently lets us send without waiting (for tests and metrics). */
  get availableSendCredit(): number {
    return this.sendCredit.bytes;
  }

  /**
   * Sends the peer a Report: ordered with this session's Data and Close frames (a report
   * sent before end() arrives before the Close), but outside the Data credit, so it never
   * waits for the peer's reader. Keep reports small and rare; nothing bounds them but that.
   * Dropped once the session is destroyed.
   */
  report(kind: string, payload: Uint8Array): void {
    if (this.destroyed) return;
    this.transport.sendReport(this.sessionId, kind, payload);
  }

  /**
   * Sets the handler of the peer's reports. Reports that arrived before it was set (the
   * agent reports facts while the session is still opening) are delivered first, at once,
   * in order. A handler that throws aborts the session.
   */
  onReport(handler: ReportHandler): void {
    this.reportHandler = handler;
    const held = this.heldReports;
    this.heldReports = [];
    this.heldReportBytes = 0;
    for (const { kind, payload } of held) this.deliverReport(kind, payload);
  }

  // ---- called by the session table when frames for this session arrive ----

  /** @internal */
  handleReport(kind: string, payload: Buffer): void {
    if (this.destroyed) return;
    if (this.reportHandler) {
      this.deliverReport(kind, payload);
      return;
    }
    // Bounded: a peer cannot make us hold unbounded memory for a session nobody reads
    // reports of. Copied, so a held report does not pin the whole received gRPC message.
    if (this.heldReports.length >= MAX_HELD_REPORTS) return;
    if (this.heldReportBytes + payload.byteLength > MAX_HELD_REPORT_BYTES) return;
    this.heldReportBytes += payload.byteLength;
    this.heldReports.push({ kind, payload: Buffer.from(payload) });
  }

  private deliverReport(kind: string, payload: Buffer): void {
    try {
      this.reportHandler!(kind, payload);
    } catch (error) {
      this.destroy(error as Error);
    }
  }

  /** @internal Peer granted credit (including the initial credit from the open handshake). */
  handleCredit(bytes: number): void {
    if (!this.destroyed) this.sendCredit.add(bytes);
  }

  /** @internal */
  handleData(data: Buffer): void {
    if (this.destroyed) return;
    if (this.remoteEnded) {
      this.abort('PROTOCOL_ERROR', 'data after close');
      return;
    }
    if (!this.receiveWindow.receive(data.byteLength)) {
      this.abort('PROTOCOL_ERROR', 'peer exceeded its flow-control credit');
      return;
    }
    // push()'s return value is ignored on purpose: the credit window, not the
    // high-water mark, bounds what the peer can send us.
    this.push(data);
    // In flowing mode push() may hand the chunk straight to a 'data' listener.
    this.returnCredit();
  }

  /** @internal */
  handleClose(close: { abort: boolean; reason: string; code: string }): void {
    if (this.destroyed) return;
    if (!close.abort) {
      this.remoteEnded = true;
      this.push(null);
      return;
    }
    this.remoteGone = true;
    this.destroy(close.reason ? new TunnelError('SESSION_ABORTED', close.reason, close.code || undefined) : undefined);
  }

  /** @internal The shared agent stream is gone: fail without trying to send anything. */
  handleTransportLost(err: TunnelError): void {
    this.remoteGone = true;
    this.destroy(err);
  }

  /**
   * Tells the peer the session is aborted with a code and reason, then closes
   * locally without emitting 'error' (used for sessions nobody holds yet, and
   * for protocol violations).
   */
  abort(code: string, reason: string): void {
    if (this.destroyed) return;
    this.transport.sendClose(this.sessionId, { abort: true, reason, code });
    this.remoteGone = true;
    this.destroy();
  }

  // ---- Duplex implementation ----

  // Credit is returned from read(), not just _read(): every way of consuming a Readable
  // (read() in paused mode, 'data'/pipe in flowing mode, async iteration) goes through
  // read(), and only after super.read() has the data actually left the buffer. _read()
  // alone is not enough: Node calls it before removing the chunk being read, and not
  // again until we push, which would deadlock a peer that is waiting for credit.
  override read(size?: number): Buffer | null {
    const chunk = super.read(size) as Buffer | null;
    this.returnCredit();
    return chunk;
  }

  override _read(): void {
    this.returnCredit();
  }

  private returnCredit(): void {
    if (this.remoteEnded || this.destroyed) return;
    const grant = this.receiveWindow.grant(this.readableLength);
    if (grant > 0) this.transport.sendCredit(this.sessionId, grant);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (chunk.byteLength === 0) return callback();
    // Fast path: enough credit for the whole chunk and the shared stream not backed up.
    if (chunk.byteLength <= this.maxFrameBytes && this.sendCredit.bytes >= chunk.byteLength) {
      this.sendCredit.take(chunk.byteLength);
      if (this.transport.sendData(this.sessionId, chunk)) callback();
      else this.transport.drained().then(() => callback(), callback);
      return;
    }
    this.writeSlow(chunk).then(() => callback(), callback);
  }

  // Writes that queued up while we waited for credit or for gRPC to drain go out
  // together: copying small chunks into one frame is far cheaper than a frame each.
  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    callback: (err?: Error | null) => void,
  ): void {
    const first = chunks[0];
    if (chunks.length === 1 && first) return this._write(first.chunk, first.encoding, callback);
    this._write(Buffer.concat(chunks.map((c) => c.chunk)), first?.encoding ?? 'binary', callback);
  }

  private async writeSlow(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      await this.sendCredit.wait();
      const n = this.sendCredit.take(Math.min(chunk.byteLength - offset, this.maxFrameBytes));
      const piece = n === chunk.byteLength ? chunk : chunk.subarray(offset, offset + n);
      offset += n;
      if (!this.transport.sendData(this.sessionId, piece)) await this.transport.drained();
    }
  }

  override _final(callback: (err?: Error | null) => void): void {
    // Node calls _final only after every _write completed, so Close follows the last Data frame.
    this.localEnded = true;
    this.transport.sendClose(this.sessionId, { abort: false });
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.sendCredit.fail(err ?? new TunnelError('SESSION_ABORTED', 'session closed'));
    const gracefullyDone = this.localEnded && this.remoteEnded;
    if (!this.remoteGone && !gracefullyDone) {
      const code = err instanceof TunnelError ? err.code : ((err as NodeJS.ErrnoException | null)?.code ?? '');
      this.transport.sendClose(this.sessionId, { abort: true, reason: err?.message ?? '', code });
    }
    this.onClosed(this);
    callback(err);
  }
}
