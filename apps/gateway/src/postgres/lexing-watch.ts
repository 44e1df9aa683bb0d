import { BackendCode, decodeParameterStatus } from '@warden/pg-wire';
import { LEXING_PINS, matchesPin } from '@warden/policy';

/** A lexing setting the server reported with a value its pin does not allow. */
export interface LexingChange {
  name: string;
  value: string;
}

/** Larger than any ParameterStatus a server sends; a bigger one is not read, it ends the session. */
const MAX_PARAMETER_STATUS = 64 * 1024;

/**
 * Watches the server's ParameterStatus reports on a guarded session for a lexing setting
 * (standard_conforming_strings, client_encoding) that no longer has its pinned value: the
 * policy would then read statement text differently from the server, so the session must end.
 *
 * It walks the frame headers of the target → client byte stream without copying anything but
 * ParameterStatus frames, which are rare, so the relay's cost stays one bounds check per frame.
 */
export class LexingWatch {
  private readonly header = Buffer.alloc(5);
  private headerFill = 0;
  /** Body bytes of the current frame still to come. */
  private remaining = 0;
  /** The body of the current ParameterStatus frame, while it is being read. */
  private status: Buffer[] | null = null;

  /** Checks one value reported at startup or later; the change, or null when the pin holds. */
  static check(name: string, value: string): LexingChange | null {
    return Object.hasOwn(LEXING_PINS, name.toLowerCase()) && !matchesPin(name, value) ? { name, value } : null;
  }

  /** Feeds the next chunk from the target; returns the first pinned setting reported changed. */
  push(chunk: Buffer): LexingChange | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        this.status?.push(chunk.subarray(i, i + n));
        this.remaining -= n;
        i += n;
      } else {
        const n = Math.min(5 - this.headerFill, chunk.length - i);
        chunk.copy(this.header, this.headerFill, i, i + n);
        this.headerFill += n;
        i += n;
        if (this.headerFill < 5) break;
        this.headerFill = 0;
        // A length below 4 is not protocol; the response path refuses the stream on it.
        this.remaining = Math.max(0, this.header.readInt32BE(1) - 4);
        if (this.header[0] === BackendCode.ParameterStatus) {
          if (this.remaining > MAX_PARAMETER_STATUS) return { name: 'ParameterStatus', value: 'oversized' };
          this.status = [];
        }
      }
      if (this.remaining === 0 && this.status) {
        const change = this.finishStatus(this.status);
        this.status = null;
        if (change) return change;
      }
    }
    return null;
  }

  private finishStatus(body: Buffer[]): LexingChange | null {
    const frame = Buffer.concat([this.header, ...body]);
    let reported: { name: string; value: string };
    try {
      reported = decodeParameterStatus(frame);
    } catch {
      return { name: 'ParameterStatus', value: 'malformed' };
    }
    return LexingWatch.check(reported.name, reported.value);
  }
}
