import { BackendSerializer as S, FrameView, BackendSplitter, FrontendParser, serializeFrontend } from '@warden/pg-wire';
import { describe, expect, it } from 'vitest';
import type { SessionRecorder } from '../recording/session-recorder.js';
import { PostgresSessionRecording } from './session-recording.js';

// Unit test of the Postgres recording alone: a stand-in SessionRecorder keeps the events it is
// given (the real one, with its hash chain and writer, is exercised end to end in test/recording).
function recorded() {
  const events: { direction: string; kind: string; payload: Record<string, unknown> }[] = [];
  const recorder = {
    record: (direction: string, kind: string, payload: Record<string, unknown>) => {
      events.push({ direction, kind, payload });
      return events.length;
    },
  } as unknown as SessionRecorder;
  const recording = new PostgresSessionRecording(recorder, { enabled: true, maxRows: 100, maxBytes: 64 * 1024 });
  return { events, recording };
}

function client(recording: PostgresSessionRecording, bytes: Buffer): void {
  const parser = new FrontendParser({ phase: 'normal' });
  parser.push(bytes);
  for (let m = parser.read(); m; m = parser.read()) {
    if (m.kind === 'query') recording.query(m.text);
    else if (m.kind === 'parse') recording.parse(m);
    else if (m.kind === 'bind') recording.bind(m);
    else if (m.kind === 'execute') recording.execute(m);
    else if (m.kind === 'sync') recording.sync();
  }
}

/** The server's reply as the gateway's ResponsePath hands it over: frames read in place, in pieces. */
function serverInPlace(recording: PostgresSessionRecording, reply: Buffer, pieces: number): void {
  const splitter = new BackendSplitter();
  const view = new FrameView();
  const step = Math.ceil(reply.length / pieces);
  for (let at = 0; at < reply.length; at += step) {
    // Each piece inside a larger buffer, so that frames never start at offset 0 of their buffer.
    const padded = Buffer.concat([Buffer.from('pad'), reply.subarray(at, at + step), Buffer.from('pad')]);
    splitter.push(padded.subarray(3, padded.length - 3));
    while (splitter.next(view)) recording.serverFrameAt(view.buffer, view.start, view.end);
  }
}

const column = (name: string, dataTypeOID: number) => ({ name, tableOID: 0, columnAttr: 0, dataTypeOID, typeSize: -1 });

describe('PostgresSessionRecording', () => {
  it('records what the client received, read in place, the same as from whole frames', () => {
    const reply = Buffer.concat([
      S.rowDescription([column('id', 23), column('email', 25)]),
      S.dataRow([Buffer.from('1'), Buffer.from('a***@example.com')]),
      S.dataRow([Buffer.from('2'), null]),
      S.commandComplete('SELECT 2'),
      S.readyForQuery('I'),
    ]);
    const runs = [1, 3, reply.length].map((pieces) => {
      const { events, recording } = recorded();
      client(recording, serializeFrontend.query('SELECT id, email FROM users'));
      serverInPlace(recording, reply, pieces);
      return events;
    });
    const whole = recorded();
    client(whole.recording, serializeFrontend.query('SELECT id, email FROM users'));
    for (const frame of new BackendSplitter().split(reply)) whole.recording.serverFrameAt(frame, 0, frame.length);

    for (const events of runs) {
      expect(events.map((e) => ({ ...e, payload: { ...e.payload, ms: 0 } }))).toEqual(
        whole.events.map((e) => ({ ...e, payload: { ...e.payload, ms: 0 } })),
      );
    }
    expect(runs[0]![1]!.payload).toMatchObject({
      ref: 1,
      tag: 'SELECT 2',
      rowCount: 2,
      columns: [
        { name: 'id', typeOid: 23 },
        { name: 'email', typeOid: 25 },
      ],
      rows: [
        ['1', 'a***@example.com'],
        ['2', null],
      ],
    });
  });

  it('keeps binary results and values that are not text as base64, short or long', () => {
    const { events, recording } = recorded();
    client(
      recording,
      Buffer.concat([
        serializeFrontend.parse({ name: 'q', text: 'SELECT $1::bytea, $2::text', types: [] }),
        serializeFrontend.bind({ statement: 'q', values: ['x', 'y'], binary: true }),
        serializeFrontend.execute({}),
        serializeFrontend.sync(),
      ]),
    );
    const long = Buffer.alloc(300, 7);
    long[250] = 0;
    const longText = Buffer.from('t'.repeat(200));
    serverInPlace(
      recording,
      Buffer.concat([
        S.parseComplete(),
        S.bindComplete(),
        S.dataRow([Buffer.from([0, 1, 2]), long]),
        S.dataRow([longText, Buffer.from('plain')]),
        S.commandComplete('SELECT 2'),
        S.readyForQuery('I'),
      ]),
      2,
    );
    const result = events.find((e) => e.kind === 'result')!;
    // Bind asked for binary results: every cell is kept as base64, whatever it holds.
    expect(result.payload['rows']).toEqual([
      [{ b64: 'AAEC' }, { b64: long.toString('base64') }],
      [{ b64: longText.toString('base64') }, { b64: Buffer.from('plain').toString('base64') }],
    ]);
  });

  it('keeps text results as text unless they hold a NUL, which JSON text cannot store', () => {
    const { events, recording } = recorded();
    client(recording, serializeFrontend.query('SELECT a, b FROM t'));
    const longNul = Buffer.from('n'.repeat(100) + '\0' + 'n'.repeat(100));
    const longText = 'é'.repeat(100);
    serverInPlace(
      recording,
      Buffer.concat([
        S.rowDescription([column('a', 25), column('b', 25)]),
        S.dataRow([Buffer.from('a\0b'), longNul]),
        S.dataRow([Buffer.from(longText), Buffer.from('')]),
        S.commandComplete('SELECT 2'),
        S.readyForQuery('I'),
      ]),
      3,
    );
    expect(events.find((e) => e.kind === 'result')!.payload['rows']).toEqual([
      [{ b64: Buffer.from('a\0b').toString('base64') }, { b64: longNul.toString('base64') }],
      [longText, ''],
    ]);
  });

  it('refuses a malformed DataRow from the server', () => {
    const { recording } = recorded();
    client(recording, serializeFrontend.query('SELECT 1'));
    const bad = Buffer.from([0x44, 0, 0, 0, 10, 0, 1, 0, 0, 0, 9]);
    expect(() => serverInPlace(recording, bad, 1)).toThrow(/insufficient data/);
  });
});
