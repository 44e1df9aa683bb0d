import { BackendSerializer as S, BackendSplitter, FrameView } from '@warden/pg-wire';
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
});
