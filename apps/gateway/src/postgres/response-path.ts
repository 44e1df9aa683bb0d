import { BackendSplitter, FrameView } from '@warden/pg-wire';
import type { PostgresSessionRecording } from './session-recording.js';
import type { StatementGuard } from './statement-guard.js';

/**
 * The target → client direction of a session: what the client is sent for each
 * chunk from the agent. With nothing to enforce or record, chunks pass untouched;
 * with a guard only, frames are relayed in runs; with a recording, every frame is
 * looked at once (the recording sees exactly what the client receives).
 */
export class ResponsePath {
  private readonly splitter = new BackendSplitter();
  private readonly view = new FrameView();

  constructor(
    private readonly guard: StatementGuard | undefined,
    private readonly recording: PostgresSessionRecording | undefined,
  ) {}

  /** Throws a ProtocolViolation when the server's bytes are not valid protocol. */
  process(chunk: Buffer): Buffer[] {
    if (!this.recording) return this.guard ? this.guard.response(chunk) : [chunk];
    if (!this.guard) {
      // Nothing to change: the chunk goes out as it came, and the recording reads its frames
      // in place.
      const view = this.view;
      this.splitter.push(chunk);
      while (this.splitter.next(view)) this.recording.serverFrameAt(view.buffer, view.start, view.end);
      return [chunk];
    }
    this.splitter.push(chunk);
    const out: Buffer[] = [];
    for (let read = this.splitter.read(); read; read = this.splitter.read()) {
      const frame = this.guard ? this.guard.filter(read) : read;
      if (!frame) continue;
      this.recording.serverFrame(frame);
      out.push(frame);
    }
    // One write per chunk: many small writes cost more than one copy.
    return out.length > 1 ? [Buffer.concat(out)] : out;
  }
}
