import { BackendCode, typeTable } from '@warden/pg-wire';

/** Where the filter's output goes, in stream order (OffloadedRecording: the op log). */
export interface RowCapSink {
  /** Server bytes to record as they are: `buf[start, end)`, any split of the stream. */
  bytes(buf: Buffer, start: number, end: number): void;
  /** Data rows (DataRow or CopyData) the client received that were left out, and their size. */
  skipped(rows: number, bytes: number): void;
}

const HEADER = 5;

/** Frames after which a new result starts: the recording's row counts start again (session-recording.ts). */
const RESULT_ENDS = typeTable([
  BackendCode.CommandComplete,
  BackendCode.EmptyQueryResponse,
  BackendCode.PortalSuspended,
  BackendCode.ErrorResponse,
  BackendCode.ReadyForQuery,
]);

/**
 * Keeps the rows the recording cannot capture out of the op log. A result's rows are recorded up
 * to the connection's cap (rows and bytes) and only counted after it; without this filter every
 * byte of a 1 GiB COPY was still copied into the op log, handed to the worker and split into
 * frames there, to be counted. The filter walks the server's frames by their headers alone (no
 * decoding) and, once a result is past the cap, passes its DataRow and CopyData frames over,
 * reporting how many there were and their size as the recording counts them, so the recorded
 * counts stay exact. Everything else goes to the log unchanged.
 *
 * It only ever drops a frame the recording would not have captured: its counts are the
 * recording's (rows, and bytes as collectRow/collectCopy measure them), reset where the
 * recording starts a new result. A stream it cannot walk (a length below 4) is passed on whole
 * from there, for the worker's parser to reject as before.
 *
 * COPY FROM STDIN data comes from the client, a frame at a time: `skipsCopyIn` counts those into
 * the same result (the server's CopyInResponse opens it, its end closes it) and keeps count of
 * those past the cap, like the server's, for OffloadedRecording to leave out of the log. What was
 * left out is reported before anything else is logged: by push() for server bytes, by
 * reportSkipped() for the session's other ops.
 */
export class RowCapFilter {
  /** Data rows and their bytes in the current result: they only grow until it ends. */
  private rows = 0;
  private bytes = 0;
  /** Body bytes of the current frame still to come. */
  private bodyLeft = 0;
  /** Whether the current frame is being skipped. */
  private skippingFrame = false;
  /** A frame header split across chunks, held until it is whole. */
  private readonly head = Buffer.alloc(HEADER);
  private headLength = 0;
  private skippedRows = 0;
  private skippedBytes = 0;
  private broken = false;
  /** Between the server's CopyInResponse and the end of that result: client CopyData is counted. */
  private copyIn = false;

  constructor(
    private readonly maxRows: number,
    private readonly maxBytes: number,
  ) {}

  /** Passes `chunk` on to `sink`, less the data frames past the cap; the sink copies what it is given at once. */
  push(chunk: Buffer, sink: RowCapSink): void {
    // Client COPY data left out before these bytes counts into the result they may end.
    this.reportSkipped(sink);
    if (this.broken) return sink.bytes(chunk, 0, chunk.length);
    const end = chunk.length;
    let pos = 0;
    /** Start of the bytes to log not yet handed to the sink; -1 while in skipped frames. */
    let run = this.skippingFrame ? -1 : 0;
    while (pos < end) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, end - pos);
        this.bodyLeft -= n;
        pos += n;
        if (this.bodyLeft === 0) this.skippingFrame = false;
        continue;
      }
      // A frame starts at `pos`; its header may have begun in the previous chunk.
      const frameStart = pos;
      const split = this.headLength > 0;
      let type: number;
      let length: number;
      if (!split && end - pos >= HEADER) {
        type = chunk[pos]!;
        length = chunk.readInt32BE(pos + 1);
        pos += HEADER;
      } else {
        const n = Math.min(HEADER - this.headLength, end - pos);
        chunk.copy(this.head, this.headLength, pos, pos + n);
        this.headLength += n;
        pos += n;
        if (this.headLength < HEADER) {
          // The header ends in the next chunk: log what precedes it and hold it until then.
          if (run >= 0 && frameStart > run) sink.bytes(chunk, run, frameStart);
          this.reportSkipped(sink);
          return;
        }
        this.headLength = 0;
        type = this.head[0]!;
        length = this.head.readInt32BE(1);
      }
      if (length < 4) {
        // Not a stream this can walk: from here on everything is passed on, as without the filter.
        this.broken = true;
        this.reportSkipped(sink);
        if (split) sink.bytes(this.head, 0, HEADER);
        sink.bytes(chunk, split ? pos : run >= 0 ? run : frameStart, end);
        return;
      }
      this.bodyLeft = length - 4;
      if (this.skips(type, length)) {
        if (run >= 0 && frameStart > run) sink.bytes(chunk, run, frameStart);
        run = -1;
        this.skippingFrame = this.bodyLeft > 0;
        continue;
      }
      // A frame to log: what was skipped before it is reported first, to keep the order.
      if (run < 0) {
        this.reportSkipped(sink);
        run = frameStart;
      }
      if (split) {
        // Its header began in the previous chunk, which was logged only up to that header.
        sink.bytes(this.head, 0, HEADER);
        run = pos;
      }
      if (RESULT_ENDS[type]) {
        this.rows = 0;
        this.bytes = 0;
        this.copyIn = false;
      } else if (type === BackendCode.CopyInResponse) this.copyIn = true;
    }
    if (run >= 0 && end > run) sink.bytes(chunk, run, end);
    this.reportSkipped(sink);
  }

  /**
   * Counts a client CopyData frame carrying `size` bytes of data, as the recording does, and says
   * whether it is past the cap. Outside a COPY FROM STDIN it counts nothing: the recording
   * ignores such frames, so they are logged as they are.
   */
  skipsCopyIn(size: number): boolean {
    if (!this.copyIn || this.broken) return false;
    return this.skipsData(size);
  }

  /** Reports the data rows left out since the last report, if any (see the class comment). */
  reportSkipped(sink: RowCapSink): void {
    if (this.skippedRows === 0) return;
    sink.skipped(this.skippedRows, this.skippedBytes);
    this.skippedRows = 0;
    this.skippedBytes = 0;
  }

  /** Counts a server frame as the recording does and says whether it is a data row past the cap. */
  private skips(type: number, length: number): boolean {
    if (type === BackendCode.DataRow) return this.skipsData(1 + length);
    if (type === BackendCode.CopyData) return this.skipsData(length - 4);
    return false;
  }

  /** Counts a data row of `size` bytes; one past the cap is counted as left out. */
  private skipsData(size: number): boolean {
    this.rows += 1;
    this.bytes += size;
    // Both counts only grow within a result: once past the cap, every later row is too.
    if (this.rows <= this.maxRows && this.bytes <= this.maxBytes) return false;
    this.skippedRows += 1;
    this.skippedBytes += size;
    return true;
  }
}
