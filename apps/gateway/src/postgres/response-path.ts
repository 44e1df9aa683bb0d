import type { StatementGuard } from './statement-guard.js';

/** Where the bytes the client received go to be recorded (an OffloadedRecording). */
export interface ServerBytesRecording {
  server(bytes: Buffer): void;
}

/**
 * The target → client direction of a session: what the client is sent for each
 * chunk from the agent. With nothing to enforce, chunks pass untouched; with a guard,
 * frames are relayed in runs. The recording gets exactly what the client is sent.
 */
export class ResponsePath {
  constructor(
    private readonly guard: StatementGuard | undefined,
    private readonly recording: ServerBytesRecording | undefined,
  ) {}

  /** Throws a ProtocolViolation when the guard finds the server's bytes are not valid protocol. */
  process(chunk: Buffer): Buffer[] {
    const out = this.guard ? this.guard.response(chunk) : [chunk];
    if (this.recording) for (const piece of out) this.recording.server(piece);
    return out;
  }
}
