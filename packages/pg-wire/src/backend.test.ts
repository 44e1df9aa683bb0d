import { describe, expect, it } from 'vitest';
import {
  BackendCode,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeCommandComplete,
  decodeCopyResponse,
  decodeDataRow,
  mapDataRow,
  decodeErrorResponse,
  decodeNegotiateProtocolVersion,
  decodeNoticeResponse,
  decodeNotificationResponse,
  decodeParameterDescription,
  decodeParameterStatus,
  decodeReadyForQuery,
  decodeRowDescription,
  type NoticeFields,
} from './backend-messages.js';
import { BackendSerializer as S } from './backend-serializer.js';
import { BackendSplitter, frameTypes } from './backend-splitter.js';
import { BufferReader } from './buffer-reader.js';
import { BufferWriter } from './buffer-writer.js';
import { FrameView } from './chunk-queue.js';
import { ProtocolViolation } from './protocol-violation.js';
import { byteChunks, parseWithPgProtocol, randomChunks, rng } from './test-helpers.js';

const fullError: NoticeFields = {
  severity: 'ERROR',
  code: '42501',
  message: 'blocked by policy rule "no-drop"',
  detail: 'DROP TABLE is not allowed on pg-prod',
  hint: 'ask for a review',
  position: '1',
  internalPosition: '2',
  internalQuery: 'select 1',
  where: 'warden gateway',
  schema: 'public',
  table: 'users',
  column: 'email',
  dataType: 'text',
  constraint: 'c1',
  file: 'gateway.ts',
  line: '42',
  routine: 'policy',
};

const fields = [
  { name: 'id', tableOID: 16384, columnAttr: 1, dataTypeOID: 23, typeSize: 4, typeModifier: -1, format: 0 },
  { name: 'émail', tableOID: 16384, columnAttr: 2, dataTypeOID: 25, typeSize: -1, typeModifier: -1, format: 0 },
  { name: 'blob', tableOID: 0, columnAttr: 0, dataTypeOID: 17, typeSize: -1, typeModifier: -1, format: 1 },
  { name: 'n', tableOID: 0xfffffff0, columnAttr: -5, dataTypeOID: 1700, typeSize: -1, typeModifier: 655366, format: 0 },
];

/** Every message the serializer builds, in a plausible order. */
function conversation(): Buffer[] {
  return [
    S.authenticationCleartextPassword(),
    S.authenticationMD5Password(Buffer.from([1, 2, 3, 4])),
    S.authenticationSASL(['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS']),
    S.authenticationSASLContinue(Buffer.from('r=abc,s=xyz,i=4096')),
    S.authenticationSASLFinal(Buffer.from('v=signature')),
    S.authenticationOk(),
    S.parameterStatus('server_version', '16.4 (Warden)'),
    S.parameterStatus('client_encoding', 'UTF8'),
    S.backendKeyData(12345, -98765),
    S.readyForQuery('I'),
    S.rowDescription(fields),
    S.dataRow([Buffer.from('1'), Buffer.from('a@b.c'), Buffer.from([0, 255]), null]),
    S.dataRow([]),
    S.commandComplete('SELECT 2'),
    S.emptyQueryResponse(),
    S.errorResponse(fullError),
    S.noticeResponse({ severity: 'NOTICE', code: '01000', message: 'statement held for review r_1' }),
    S.parseComplete(),
    S.parameterDescription([23, 25, 0xffffffff]),
    S.noData(),
    S.bindComplete(),
    S.portalSuspended(),
    S.closeComplete(),
    S.notificationResponse(777, 'chan', 'payload ✓'),
    S.copyInResponse(0, [0, 0]),
    S.copyOutResponse(1, [1]),
    S.copyData(Buffer.from('1\tx\n')),
    S.copyDone(),
    S.readyForQuery('T'),
    S.readyForQuery('E'),
  ];
}

describe('BackendSerializer output parsed by pg-protocol (node-postgres) ', () => {
  it('is wire-correct for every message', async () => {
    const frames = conversation();
    const msgs = await parseWithPgProtocol(Buffer.concat(frames));
    expect(msgs.map((m) => m['name'])).toEqual([
      'authenticationCleartextPassword',
      'authenticationMD5Password',
      'authenticationSASL',
      'authenticationSASLContinue',
      'authenticationSASLFinal',
      'authenticationOk',
      'parameterStatus',
      'parameterStatus',
      'backendKeyData',
      'readyForQuery',
      'rowDescription',
      'dataRow',
      'dataRow',
      'commandComplete',
      'emptyQuery',
      'error',
      'notice',
      'parseComplete',
      'parameterDescription',
      'noData',
      'bindComplete',
      'portalSuspended',
      'closeComplete',
      'notification',
      'copyInResponse',
      'copyOutResponse',
      'copyData',
      'copyDone',
      'readyForQuery',
      'readyForQuery',
    ]);
    msgs.forEach((m, i) => expect(m['length']).toBe(frames[i]!.length - 1));
    const at = (i: number) => msgs[i]!;
    expect(at(1)).toMatchObject({ salt: Buffer.from([1, 2, 3, 4]) });
    expect(at(2)).toMatchObject({ mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'] });
    expect(at(3)).toMatchObject({ data: 'r=abc,s=xyz,i=4096' });
    expect(at(4)).toMatchObject({ data: 'v=signature' });
    expect(at(6)).toMatchObject({ parameterName: 'server_version', parameterValue: '16.4 (Warden)' });
    expect(at(8)).toMatchObject({ processID: 12345, secretKey: -98765 });
    expect(at(9)).toMatchObject({ status: 'I' });
    expect(at(10)['fields']).toEqual(
      fields.map((f) => ({
        name: f.name,
        tableID: f.tableOID,
        columnID: f.columnAttr,
        dataTypeID: f.dataTypeOID,
        dataTypeSize: f.typeSize,
        dataTypeModifier: f.typeModifier,
        format: f.format ? 'binary' : 'text',
      })),
    );
    expect(at(11)['fields']).toEqual(['1', 'a@b.c', Buffer.from([0, 255]).toString(), null]);
    expect(at(12)['fields']).toEqual([]);
    expect(at(13)).toMatchObject({ text: 'SELECT 2' });
    const { severityNonLocalized: _, ...errorFields } = fullError;
    expect(at(15)).toMatchObject(errorFields);
    expect(at(16)).toMatchObject({ severity: 'NOTICE', code: '01000', message: 'statement held for review r_1' });
    expect(at(18)).toMatchObject({ dataTypeIDs: [23, 25, 0xffffffff] });
    expect(at(23)).toMatchObject({ processId: 777, channel: 'chan', payload: 'payload ✓' });
    expect(at(24)).toMatchObject({ binary: false, columnTypes: [0, 0] });
    expect(at(25)).toMatchObject({ binary: true, columnTypes: [1] });
    expect(at(26)).toMatchObject({ chunk: Buffer.from('1\tx\n') });
    expect(at(28)).toMatchObject({ status: 'T' });
    expect(at(29)).toMatchObject({ status: 'E' });
  });

  it('strips NULs so a string cannot smuggle extra fields', async () => {
    const frame = S.errorResponse({ severity: 'ERROR', code: '42501', message: 'a\0Cxxxxx\0b' });
    const [m] = await parseWithPgProtocol(frame);
    expect(m).toMatchObject({ code: '42501', message: 'aCxxxxxb' });
    expect(decodeErrorResponse(frame)).toMatchObject({ code: '42501', message: 'aCxxxxxb' });
  });

  it('accepts unsigned cancel keys', () => {
    expect(decodeBackendKeyData(S.backendKeyData(0x7fffffff, 0xdeadbeef))).toMatchObject({
      processId: 0x7fffffff,
      secretKey: 0xdeadbeef | 0,
    });
  });

  it('answers SSLRequest with one byte', () => {
    expect(S.sslResponse(true)).toEqual(Buffer.from('S'));
    expect(S.sslResponse(false)).toEqual(Buffer.from('N'));
  });
});

describe('BackendSplitter', () => {
  function splitAll(chunks: Buffer[]): Buffer[] {
    const s = new BackendSplitter();
    const out: Buffer[] = [];
    for (const c of chunks) out.push(...s.split(c));
    expect(s.bufferedLength).toBe(0);
    return out;
  }

  it('splits into the exact frames: one chunk, byte by byte, random chunks', () => {
    const frames = conversation();
    const all = Buffer.concat(frames);
    const whole = splitAll([all]);
    expect(whole).toEqual(frames);
    for (const f of whole) expect(f.buffer).toBe(all.buffer); // zero-copy
    expect(splitAll(byteChunks(all))).toEqual(frames);
    const next = rng(11);
    for (let i = 0; i < 200; i++) expect(splitAll(randomChunks(all, next, 1 + i))).toEqual(frames);
  });

  it('next() positions a view on the same frames read() returns, in place unless a frame straddles chunks', () => {
    const frames = conversation();
    const all = Buffer.concat(frames);
    const next = rng(17);
    for (let i = 0; i < 100; i++) {
      const chunks = i === 0 ? [all] : randomChunks(all, next, 1 + i * 4);
      const s = new BackendSplitter();
      const view = new FrameView();
      const seen: Buffer[] = [];
      for (const c of chunks) {
        s.push(c);
        while (s.next(view)) {
          if (i === 0) expect(view.buffer).toBe(all); // the chunk itself, no Buffer per frame
          seen.push(Buffer.from(view.frame())); // valid until the next call: copy
        }
      }
      expect(seen).toEqual(frames);
      expect(s.bufferedLength).toBe(0);
    }
    const bad = new BackendSplitter();
    bad.push(Buffer.from([0x44, 0, 0, 0, 2]));
    expect(() => bad.next(new FrameView())).toThrow(/invalid message length 2/);
  });

  it('mapDataRow reads a DataRow in place as decodeDataRow does, and refuses what it refuses', () => {
    const row = S.dataRow([Buffer.from('1'), Buffer.from('a@b.c'), Buffer.from([0, 255]), null, Buffer.alloc(0)]);
    const framed = Buffer.concat([Buffer.from('xx'), row, Buffer.from('yy')]);
    const cells = mapDataRow(
      framed,
      2,
      2 + row.length,
      (buf, from, to, column) => `${column}:${buf.toString('hex', from, to)}`,
    );
    expect(cells).toEqual(['0:31', '1:6140622e63', '2:00ff', null, '4:']);
    expect(mapDataRow(S.dataRow([]), 0, 7, () => 1)).toEqual([]);
    const truncated = new BufferWriter().startMessage(BackendCode.DataRow).int16(2).int32(10).bytes(Buffer.from('abc'));
    const t = truncated.endMessage().finish();
    expect(() => mapDataRow(t, 0, t.length, () => 1)).toThrow(/insufficient data/);
    const negative = new BufferWriter().startMessage(BackendCode.DataRow).int16(1).int32(-5).endMessage().finish();
    expect(() => mapDataRow(negative, 0, negative.length, () => 1)).toThrow(/invalid field length -5/);
    const trailing = Buffer.concat([row.subarray(0, 1), Buffer.alloc(4), row.subarray(5), Buffer.from('z')]);
    trailing.writeInt32BE(trailing.length - 1, 1);
    expect(() => mapDataRow(trailing, 0, trailing.length, () => 1)).toThrow(/invalid message format/);
    const complete = S.commandComplete('SELECT 1');
    expect(() => mapDataRow(complete, 0, complete.length, () => 1)).toThrow(ProtocolViolation);
  });

  it('readRun relays untouched runs in one piece and stops at the types the caller watches', () => {
    const frames = conversation();
    const all = Buffer.concat(frames);
    const pass = frameTypes(['Z', BackendCode.ErrorResponse]);
    const next = rng(5);
    for (let i = 0; i < 100; i++) {
      const s = new BackendSplitter();
      const out: Buffer[] = [];
      const watched: string[] = [];
      let runs = 0;
      for (const c of i === 0 ? [all] : randomChunks(all, next, 1 + i * 8)) {
        s.push(c);
        for (;;) {
          const run = s.readRun(pass);
          if (run) {
            runs++;
            if (i === 0) expect(run.buffer).toBe(all.buffer);
            const inside = new BackendSplitter().split(run);
            expect(Buffer.concat(inside).equals(run)).toBe(true);
            expect(inside.some((f) => f[0] === 0x5a || f[0] === 0x45)).toBe(false);
            out.push(run);
            continue;
          }
          const f = s.read();
          if (!f) break;
          if (f[0] === 0x5a || f[0] === 0x45) watched.push(String.fromCharCode(f[0]));
          out.push(f);
        }
      }
      expect(Buffer.concat(out).equals(all)).toBe(true);
      expect(watched).toEqual(['Z', 'E', 'Z', 'Z']);
      if (i === 0) expect(runs).toBe(3);
    }
  });

  it('readRun never passes an invalid frame: read() reports it', () => {
    const s = new BackendSplitter();
    s.push(Buffer.concat([S.commandComplete('SELECT 1'), Buffer.from([0x44, 0, 0, 0, 2])]));
    expect(s.readRun(frameTypes())).toEqual(S.commandComplete('SELECT 1'));
    expect(s.readRun(frameTypes())).toBeNull();
    expect(() => s.read()).toThrow(/invalid message length 2/);
    const t = new BackendSplitter();
    t.push(Buffer.from([0x51, 0, 0, 0, 4]));
    expect(t.readRun(new Uint8Array(256).fill(1))).toBeNull();
    expect(() => t.read()).toThrow(/invalid backend message type/);
  });

  it('decodes what the serializer built', () => {
    const f = splitAll([Buffer.concat(conversation())]);
    expect(decodeAuthentication(f[0]!)).toEqual({ type: 'cleartextPassword' });
    expect(decodeAuthentication(f[1]!)).toEqual({ type: 'md5Password', salt: Buffer.from([1, 2, 3, 4]) });
    expect(decodeAuthentication(f[2]!)).toEqual({ type: 'sasl', mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'] });
    expect(decodeAuthentication(f[3]!)).toEqual({ type: 'saslContinue', data: Buffer.from('r=abc,s=xyz,i=4096') });
    expect(decodeAuthentication(f[4]!)).toEqual({ type: 'saslFinal', data: Buffer.from('v=signature') });
    expect(decodeAuthentication(f[5]!)).toEqual({ type: 'ok' });
    expect(decodeParameterStatus(f[6]!)).toEqual({ name: 'server_version', value: '16.4 (Warden)' });
    expect(decodeBackendKeyData(f[8]!)).toMatchObject({ processId: 12345, secretKey: -98765 });
    expect(decodeReadyForQuery(f[9]!)).toBe('I');
    expect(decodeRowDescription(f[10]!)).toEqual(fields);
    expect(decodeDataRow(f[11]!)).toEqual([Buffer.from('1'), Buffer.from('a@b.c'), Buffer.from([0, 255]), null]);
    expect(decodeDataRow(f[12]!)).toEqual([]);
    expect(decodeCommandComplete(f[13]!)).toBe('SELECT 2');
    expect(decodeErrorResponse(f[15]!)).toEqual({ ...fullError, severityNonLocalized: 'ERROR' });
    expect(decodeNoticeResponse(f[16]!)).toMatchObject({ severity: 'NOTICE', code: '01000' });
    expect(decodeParameterDescription(f[18]!)).toEqual([23, 25, 0xffffffff]);
    expect(decodeNotificationResponse(f[23]!)).toEqual({ processId: 777, channel: 'chan', payload: 'payload ✓' });
    expect(decodeCopyResponse(f[24]!)).toEqual({ format: 0, columnFormats: [0, 0] });
    expect(decodeCopyResponse(f[25]!)).toEqual({ format: 1, columnFormats: [1] });
    expect(decodeReadyForQuery(f[28]!)).toBe('T');
    expect(decodeNegotiateProtocolVersion(S.negotiateProtocolVersion(2, ['_pq_.a', '_pq_.b']))).toEqual({
      newestMinor: 2,
      unrecognizedOptions: ['_pq_.a', '_pq_.b'],
    });
  });

  it('re-frames a masked DataRow with correct lengths', async () => {
    const original = S.dataRow([Buffer.from('42'), Buffer.from('alice@example.com'), null, Buffer.from('x')]);
    const cells = decodeDataRow(original);
    cells[1] = Buffer.from('***');
    const masked = S.dataRow(cells);
    expect(masked.readInt32BE(1)).toBe(masked.length - 1);
    expect(decodeDataRow(masked)).toEqual([Buffer.from('42'), Buffer.from('***'), null, Buffer.from('x')]);
    const [m] = await parseWithPgProtocol(masked);
    expect(m!['fields']).toEqual(['42', '***', null, 'x']);
  });

  it('decoders refuse a frame of another type', () => {
    expect(() => decodeDataRow(S.commandComplete('SELECT 1'))).toThrow(ProtocolViolation);
    expect(() => decodeDataRow(Buffer.alloc(0))).toThrow(ProtocolViolation);
  });

  it('decoders reject a malformed DataRow without RangeError', () => {
    const w = new BufferWriter().startMessage(BackendCode.DataRow).int16(2).int32(10).bytes(Buffer.from('abc'));
    expect(() => decodeDataRow(w.endMessage().finish())).toThrow(/insufficient data/);
  });
});

describe('BufferReader / BufferWriter', () => {
  it('round-trip every primitive', () => {
    const w = new BufferWriter(4);
    w.byte(0xab)
      .int16(-2)
      .uint16(65535)
      .int32(-7)
      .uint32(0xfffffffe)
      .cstring('héllo')
      .bytes(Buffer.from([1, 2]));
    const b = w.finish();
    const r = new BufferReader().reset(b);
    expect([r.byte(), r.int16(), r.uint16(), r.int32(), r.uint32(), r.cstring()]).toEqual([
      0xab,
      -2,
      65535,
      -7,
      0xfffffffe,
      'héllo',
    ]);
    expect(r.bytes(2)).toEqual(Buffer.from([1, 2]));
    expect(r.remaining).toBe(0);
    expect(() => r.byte()).toThrow(ProtocolViolation);
    expect(() => r.bytes(-1)).toThrow(ProtocolViolation);
  });

  it('appends several messages into one buffer', () => {
    const w = new BufferWriter();
    w.startMessage(0x5a).byte(0x49).endMessage();
    w.startMessage(0x43).cstring('SELECT 1').endMessage();
    const b = w.finish();
    expect(new BackendSplitter().split(b)).toEqual([S.readyForQuery('I'), S.commandComplete('SELECT 1')]);
    expect(w.length).toBe(0);
  });

  it('the reader respects its end bound', () => {
    const b = Buffer.from('abc\0def\0');
    const r = new BufferReader().reset(b, 0, 3);
    expect(() => r.cstring()).toThrow(/invalid string/);
  });
});
