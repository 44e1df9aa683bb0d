import { BackendSerializer as S, BackendSplitter, FrameView, serializeFrontend as F } from '@warden/pg-wire';
import { describe, expect, it } from 'vitest';
import { PostgresSessionRecording } from '../../postgres/session-recording.js';
import type { EventRecorder } from '../session-recorder.js';
import { RowCapFilter, type RowCapSink } from './row-cap-filter.js';

// The filter's promise: the recording made from what it lets through (plus its skipped counts) is
// the recording made from every byte, for any split of the stream, while the rows past the cap
// stay out of the log.

const CAP = { maxRows: 100, maxBytes: 64 * 1024 };
const column = { name: 'v', tableOID: 0, columnAttr: 0, dataTypeOID: 25, typeSize: -1 };

/** Four statements' answers: rows past the row cap, rows within it, a COPY past the byte cap, an error mid-rows. */
function serverStream(): Buffer {
  const rows = (n: number, size: number) =>
    Array.from({ length: n }, (_, i) => S.dataRow([Buffer.from(String(i).padEnd(size, 'x'))]));
  return Buffer.concat([
    S.rowDescription([column]),
    ...rows(150, 90),
    S.commandComplete('SELECT 150'),
    S.readyForQuery('I'),
    S.rowDescription([column]),
    ...rows(5, 10),
    S.commandComplete('SELECT 5'),
    S.readyForQuery('I'),
    S.copyOutResponse(0, [0]),
    ...Array.from({ length: 300 }, (_, i) => S.copyData(Buffer.from(`${i}\t${'y'.repeat(500)}\n`))),
    S.copyData(Buffer.alloc(0)),
    S.copyDone(),
    S.commandComplete('COPY 301'),
    S.readyForQuery('I'),
    S.rowDescription([column]),
    ...rows(120, 20),
    S.errorResponse({ severity: 'ERROR', code: '57014', message: 'canceling statement due to user request' }),
    S.readyForQuery('I'),
  ]);
}

function recordingOf() {
  const events: { kind: string; payload: unknown }[] = [];
  const recorder: EventRecorder = {
    record: (_direction, kind, payload) => events.push({ kind, payload }),
  };
  const recording = new PostgresSessionRecording(recorder, { enabled: true, ...CAP }, () => 0);
  for (let i = 0; i < 4; i++) recording.query(`statement ${i}`);
  return { events, recording };
}

/** Splits `buf` at seeded random points, some pieces a single byte (headers split anywhere). */
function pieces(buf: Buffer, seed: number): Buffer[] {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length;) {
    const size = next() < 0.2 ? 1 + Math.floor(next() * 6) : 1 + Math.floor(next() * 3000);
    out.push(buf.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** What reaches the op log, as ops in order. */
function filtered(chunks: Buffer[]): { ops: ({ bytes: Buffer } | { rows: number; bytes: number })[]; logged: number } {
  const ops: ({ bytes: Buffer } | { rows: number; bytes: number })[] = [];
  let logged = 0;
  const sink: RowCapSink = {
    bytes: (buf, start, end) => {
      ops.push({ bytes: Buffer.from(buf.subarray(start, end)) });
      logged += end - start;
    },
    skipped: (rows, bytes) => ops.push({ rows, bytes }),
  };
  const filter = new RowCapFilter(CAP.maxRows, CAP.maxBytes);
  for (const chunk of chunks) filter.push(chunk, sink);
  return { ops, logged };
}

describe('RowCapFilter', () => {
  it('leaves rows past the cap out of the log, and the recording is the same as from every byte', () => {
    const stream = serverStream();
    const whole = recordingOf();
    const view = new FrameView();
    const splitter = new BackendSplitter();
    splitter.push(stream);
    while (splitter.next(view)) whole.recording.serverFrameAt(view.buffer, view.start, view.end);
    expect(whole.events.filter((e) => e.kind === 'result' || e.kind === 'error')).toHaveLength(4);

    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const { ops, logged } = filtered(pieces(stream, seed));
      expect(logged).toBeLessThan(stream.length / 2);
      const replayed = recordingOf();
      const splitter = new BackendSplitter();
      for (const op of ops) {
        if ('rows' in op) {
          replayed.recording.skippedRows(op.rows, op.bytes);
          continue;
        }
        splitter.push(op.bytes);
        while (splitter.next(view)) replayed.recording.serverFrameAt(view.buffer, view.start, view.end);
      }
      expect(replayed.events).toEqual(whole.events);
    }
  });

  it('passes every byte through, in order, when nothing is past the cap', () => {
    const stream = Buffer.concat([
      S.rowDescription([column]),
      S.dataRow([Buffer.from('a')]),
      S.commandComplete('SELECT 1'),
      S.noticeResponse({ severity: 'NOTICE', code: '00000', message: 'hello' }),
      S.readyForQuery('I'),
    ]);
    for (const seed of [11, 12, 13]) {
      const { ops } = filtered(pieces(stream, seed).flatMap((p) => [p.subarray(0, 1), p.subarray(1)]));
      expect(ops.every((op) => 'bytes' in op)).toBe(true);
      expect(Buffer.concat(ops.map((op) => (op as { bytes: Buffer }).bytes))).toEqual(stream);
    }
  });

  it('passes on everything from a frame it cannot walk, for the recording to refuse', () => {
    const garbage = Buffer.from([0x44, 0, 0, 0, 2, 1, 2, 3]);
    const stream = Buffer.concat([S.readyForQuery('I'), garbage, S.readyForQuery('I')]);
    for (const seed of [21, 22, 23]) {
      const { ops } = filtered(pieces(stream, seed));
      expect(Buffer.concat(ops.map((op) => (op as { bytes: Buffer }).bytes))).toEqual(stream);
    }
  });

  it('counts COPY FROM STDIN data as the recording does and leaves what is past the cap out', () => {
    // What passes, in order: server bytes, and the client's frames (COPY data among them).
    type Step = { server: Buffer } | { client: Buffer };
    const lines = (n: number, size: number): Step[] =>
      Array.from({ length: n }, (_, i) => ({ client: F.copyData(Buffer.from(`${i}\t`.padEnd(size, 'z'))) }));
    const steps: Step[] = [
      // Past the byte cap, then the end of the data.
      { server: S.copyInResponse(0, [0]) },
      ...lines(300, 500),
      { client: F.copyDone() },
      { server: Buffer.concat([S.commandComplete('COPY 300'), S.readyForQuery('I')]) },
      // Past the row cap, then the server refuses the data: what the client still sends is no row.
      { server: S.copyInResponse(0, [0]) },
      ...lines(150, 10),
      { server: S.errorResponse({ severity: 'ERROR', code: '22P02', message: 'invalid input syntax' }) },
      ...lines(120, 10),
      { client: F.copyFail('gave up') },
      { server: S.readyForQuery('I') },
      // Within the cap; and COPY data outside any COPY, which the recording ignores.
      { server: S.copyInResponse(0, [0]) },
      ...lines(5, 10),
      { client: F.copyDone() },
      { server: Buffer.concat([S.commandComplete('COPY 5'), S.readyForQuery('I')]) },
      ...lines(120, 10),
      { server: S.copyInResponse(0, [0]) },
      { client: F.copyDone() },
      { server: Buffer.concat([S.commandComplete('COPY 0'), S.readyForQuery('I')]) },
    ];
    const view = new FrameView();
    const apply = (recording: PostgresSessionRecording, splitter: BackendSplitter, bytes: Buffer) => {
      splitter.push(bytes);
      while (splitter.next(view)) recording.serverFrameAt(view.buffer, view.start, view.end);
    };
    const copyDataOf = (frame: Buffer) => (frame[0] === 0x64 ? frame.subarray(5) : undefined);

    const whole = recordingOf();
    const wholeSplitter = new BackendSplitter();
    for (const step of steps) {
      if ('server' in step) apply(whole.recording, wholeSplitter, step.server);
      else if (copyDataOf(step.client)) whole.recording.copyData(copyDataOf(step.client)!);
    }
    const results = whole.events.filter((e) => e.kind === 'result' || e.kind === 'error');
    expect(results.map((e) => [e.kind, (e.payload as { rowCount?: number }).rowCount])).toEqual([
      ['result', 300],
      ['error', undefined],
      ['result', 5],
      ['result', 0],
    ]);

    // The same steps through the filter, as OffloadedRecording does: client data past the cap
    // counted by the filter, and reported before the next op is logged.
    const replayed = recordingOf();
    const splitter = new BackendSplitter();
    const filter = new RowCapFilter(CAP.maxRows, CAP.maxBytes);
    let clientBytes = 0;
    let loggedClientBytes = 0;
    const sink: RowCapSink = {
      bytes: (buf, start, end) => apply(replayed.recording, splitter, Buffer.from(buf.subarray(start, end))),
      skipped: (rows, bytes) => replayed.recording.skippedRows(rows, bytes),
    };
    for (const step of steps) {
      if ('server' in step) {
        filter.push(step.server, sink);
        continue;
      }
      const data = copyDataOf(step.client);
      clientBytes += step.client.length;
      if (data && filter.skipsCopyIn(data.length)) continue;
      filter.reportSkipped(sink);
      loggedClientBytes += step.client.length;
      if (data) replayed.recording.copyData(data);
    }
    expect(replayed.events).toEqual(whole.events);
    expect(loggedClientBytes).toBeLessThan(clientBytes / 2);
  });
});
