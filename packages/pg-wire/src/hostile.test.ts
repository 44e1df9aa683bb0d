import { describe, expect, it } from 'vitest';
import { serialize } from 'pg-protocol';
import {
  BackendCode,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeCommandComplete,
  decodeCopyResponse,
  decodeDataRow,
  decodeErrorResponse,
  decodeNegotiateProtocolVersion,
  decodeNoticeResponse,
  decodeNotificationResponse,
  decodeParameterDescription,
  decodeParameterStatus,
  decodeReadyForQuery,
  decodeRowDescription,
} from './backend-messages.js';
import { BackendSerializer as S } from './backend-serializer.js';
import { BackendSplitter, frameTypes } from './backend-splitter.js';
import { FrontendParser, decodePassword, decodeSASLInitialResponse } from './frontend-parser.js';
import type { FrontendMessage } from './frontend-messages.js';
import { ProtocolViolation } from './protocol-violation.js';
import { randomChunks, rng } from './test-helpers.js';

function header(code: number, len: number): Buffer {
  const b = Buffer.alloc(5);
  b[0] = code;
  b.writeUInt32BE(len >>> 0, 1);
  return b;
}

function violation(fn: () => unknown): ProtocolViolation {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProtocolViolation) return e;
    throw e;
  }
  throw new Error('expected a ProtocolViolation');
}

function arrayBuffersMiB(): number {
  return process.memoryUsage().arrayBuffers / (1024 * 1024);
}

describe('FrontendParser on hostile input', () => {
  it.each([
    ['0', 0],
    ['3', 3],
    ['-1', -1],
    ['-2^31', -0x80000000],
  ])('rejects length %s as a fatal protocol violation', (_, len) => {
    const p = new FrontendParser({ phase: 'normal' });
    p.push(header(0x51, len));
    const v = violation(() => p.read());
    expect(v).toMatchObject({ code: '08P01', fatal: true });
    expect(v.message).toMatch(/invalid message length/);
    // Sticky: the parser stays failed.
    expect(violation(() => p.read())).toBe(v);
    p.push(serialize.sync()); // dropped, never thrown from a 'data' listener
    expect(p.bufferedLength).toBe(0);
    expect(violation(() => p.read())).toBe(v);
  });

  it('rejects fixed-size messages with another length', () => {
    const p = new FrontendParser({ phase: 'normal' });
    p.push(header(0x53, 5)); // Sync is always 4
    expect(violation(() => p.read())).toMatchObject({ code: '08P01', fatal: true });
  });

  it('rejects an oversized Describe before its body arrives (small message limit)', () => {
    const p = new FrontendParser({ phase: 'normal' });
    p.push(header(0x44, 1_000_000));
    expect(violation(() => p.read())).toMatchObject({ code: '08P01', fatal: true });
  });

  it('rejects a 2 GB length claim at once with 54000, allocating nothing', () => {
    const before = arrayBuffersMiB();
    const p = new FrontendParser({ phase: 'normal' });
    p.push(header(0x64, 0x7fffffff));
    const v = violation(() => p.read());
    expect(v).toMatchObject({ code: '54000', fatal: true });
    expect(v.message).toMatch(/exceeds the limit of 67108864 bytes/);
    expect(arrayBuffersMiB() - before).toBeLessThan(8);
  });

  it('honours a configured maxMessageSize', () => {
    const p = new FrontendParser({ phase: 'normal', maxMessageSize: 1000 });
    p.push(serialize.query('x'.repeat(995)));
    expect(p.read()?.kind).toBe('query');
    p.push(serialize.query('x'.repeat(996)));
    expect(violation(() => p.read())).toMatchObject({ code: '54000', fatal: true });
  });

  it('waits for a claimed 2 GB message without allocating it', () => {
    const before = arrayBuffersMiB();
    const p = new FrontendParser({ phase: 'normal', maxMessageSize: 2 ** 32 });
    p.push(header(0x64, 0x7fffffff));
    expect(p.read()).toBeNull();
    const chunk = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 16; i++) {
      p.push(chunk);
      expect(p.read()).toBeNull();
    }
    expect(p.bufferedLength).toBe(5 + 16 * 64 * 1024);
    // Only what arrived is held (1 MiB of chunks, all the same Buffer here), not 2 GB.
    expect(arrayBuffersMiB() - before).toBeLessThan(16);
  });

  it('waits for the rest of a truncated frame', () => {
    const p = new FrontendParser({ phase: 'normal' });
    const q = serialize.query('select 42');
    for (const cut of [1, 4, 5, 8, q.length - 1]) {
      p.push(q.subarray(0, cut));
      expect(p.read()).toBeNull();
      expect(p.bufferedLength).toBe(cut);
      p.push(q.subarray(cut));
      expect(p.read()).toMatchObject({ kind: 'query', text: 'select 42' });
      expect(p.read()).toBeNull();
    }
  });

  it.each([0x00, 0x5a, 0x54, 0x41, 0xff])('rejects unknown type byte %i as soon as it arrives', (code) => {
    const p = new FrontendParser({ phase: 'normal' });
    p.push(Buffer.from([code]));
    const v = violation(() => p.read());
    expect(v).toMatchObject({ code: '08P01', fatal: true });
    expect(v.message).toMatch(/invalid frontend message type/);
  });

  it('rejects an oversized startup packet as soon as its length is known', () => {
    const p = new FrontendParser();
    p.push(Buffer.from([0, 0, 0x28, 0x01])); // 10241
    expect(violation(() => p.read())).toMatchObject({ code: '54000', fatal: true });
    const q = new FrontendParser();
    q.push(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    expect(violation(() => q.read())).toMatchObject({ code: '54000', fatal: true });
    const big = serialize.startup({ user: 'u', options: 'x'.repeat(11000) });
    expect(violation(() => new FrontendParser().parse(big))).toMatchObject({ code: '54000' });
  });

  it.each([
    ['too short', Buffer.from([0, 0, 0, 4])],
    ['negative', Buffer.from([0xff, 0xff, 0xff, 0xfc])],
    ['SSLRequest of 12 bytes', Buffer.from([0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2f, 0, 0, 0, 0])],
    ['CancelRequest of 12 bytes', Buffer.from([0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 0])],
    ['protocol 2.0', Buffer.from([0, 0, 0, 9, 0, 2, 0, 0, 0])],
    ['no terminator', Buffer.from([0, 0, 0, 14, 0, 3, 0, 0, 0x75, 0x73, 0x65, 0x72, 0, 0x75])],
    ['trailing bytes', Buffer.from([0, 0, 0, 11, 0, 3, 0, 0, 0, 0x41, 0x42])],
    ['invalid UTF-8', Buffer.from([0, 0, 0, 14, 0, 3, 0, 0, 0x75, 0x73, 0xff, 0, 0x75, 0])],
  ])('rejects a bad startup packet: %s', (_, packet) => {
    const p = new FrontendParser();
    const v = violation(() => p.parse(packet));
    expect(v.fatal).toBe(true);
    expect(p.phase).toBe('startup');
  });
});

describe('BackendSplitter on hostile input', () => {
  it('rejects short lengths and unknown types', () => {
    expect(violation(() => new BackendSplitter().split(header(0x44, 3)))).toMatchObject({ code: '08P01', fatal: true });
    expect(violation(() => new BackendSplitter().split(Buffer.from([0x51])))).toMatchObject({ code: '08P01' });
  });

  it('rejects lengths above maxMessageSize with 54000', () => {
    const s = new BackendSplitter({ maxMessageSize: 1024 });
    expect(violation(() => s.split(header(0x44, 1025)))).toMatchObject({ code: '54000', fatal: true });
  });

  it('waits for a claimed 2 GB DataRow without allocating it', () => {
    const before = arrayBuffersMiB();
    const s = new BackendSplitter({ maxMessageSize: 2 ** 31 });
    expect(s.split(header(0x44, 0x7fffffff))).toEqual([]);
    expect(s.split(Buffer.alloc(1024))).toEqual([]);
    expect(arrayBuffersMiB() - before).toBeLessThan(8);
  });
});

// ---------------------------------------------------------------------------------------------
// Seeded fuzzing: whatever the bytes, the parsers return messages or throw ProtocolViolation,
// consume input, and terminate.

const frontendFrames: Buffer[] = [
  serialize.query('select 1'),
  serialize.parse({ name: 's', text: 'select $1', types: [23] }),
  serialize.bind({ values: ['1', null, Buffer.from([9])] }),
  serialize.describe({ type: 'P' }),
  serialize.execute({ rows: 10 }),
  serialize.sync(),
  serialize.flush(),
  serialize.close({ type: 'S', name: 's' }),
  serialize.copyData(Buffer.from('abc')),
  serialize.copyDone(),
  serialize.copyFail('x'),
  serialize.password('pw'),
  serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,'),
  serialize.end(),
];
const startupFrames: Buffer[] = [
  serialize.startup({ user: 'u', database: 'd' }),
  serialize.requestSsl(),
  serialize.cancel(1, 2),
];
const backendFrames: Buffer[] = [
  S.authenticationOk(),
  S.authenticationMD5Password(Buffer.from([1, 2, 3, 4])),
  S.authenticationSASL(['SCRAM-SHA-256']),
  S.authenticationSASLContinue(Buffer.from('r=abc')),
  S.parameterStatus('server_version', '16.0'),
  S.backendKeyData(7, 8),
  S.readyForQuery('I'),
  S.rowDescription([{ name: 'a', dataTypeOID: 23, tableOID: 1, columnAttr: 1 }]),
  S.dataRow([Buffer.from('1'), null]),
  S.commandComplete('SELECT 1'),
  S.errorResponse({ severity: 'ERROR', code: '42501', message: 'no' }),
  S.noticeResponse({ severity: 'NOTICE', code: '00000', message: 'hi' }),
  S.notificationResponse(1, 'c', 'p'),
  S.parameterDescription([23, 25]),
  S.copyInResponse(0, [0, 0]),
  S.negotiateProtocolVersion(0, ['_pq_.x']),
  S.parseComplete(),
  S.copyData(Buffer.from('row\n')),
];

function mutate(next: () => number, base: Buffer): Buffer {
  const b = Buffer.from(base);
  if (b.length === 0) return b;
  switch (Math.floor(next() * 4)) {
    case 0: {
      const n = 1 + Math.floor(next() * 4);
      for (let i = 0; i < n; i++) b[Math.floor(next() * b.length)] = Math.floor(next() * 256);
      return b;
    }
    case 1:
      return b.subarray(0, Math.floor(next() * b.length));
    case 2: {
      // Rewrite a 4-byte window (often a length) with a random or boundary int32.
      const at = Math.floor(next() * Math.max(1, b.length - 4));
      const values = [0, 3, 4, 5, 0x7fffffff, -1, -0x80000000, Math.floor(next() * 2 ** 32) | 0];
      if (at + 4 <= b.length) b.writeInt32BE(values[Math.floor(next() * values.length)]!, at);
      return b;
    }
    default:
      return Buffer.concat([b, Buffer.from(Array.from({ length: Math.floor(next() * 16) }, () => next() * 256))]);
  }
}

function randomInput(next: () => number, pool: Buffer[], prefix: Buffer[] = []): Buffer {
  if (next() < 0.25) return Buffer.from(Array.from({ length: Math.floor(next() * 200) }, () => next() * 256));
  const parts = [...prefix];
  const n = 1 + Math.floor(next() * 6);
  for (let i = 0; i < n; i++) parts.push(pool[Math.floor(next() * pool.length)]!);
  return mutate(next, Buffer.concat(parts));
}

/** Feed `input` in random chunks; returns how many messages came out. Only ProtocolViolation may escape. */
function drain<T>(
  push: (b: Buffer) => void,
  read: () => T | null,
  input: Buffer,
  next: () => number,
  visit: (m: T) => void,
): number {
  let messages = 0;
  let reads = 0;
  try {
    for (const chunk of randomChunks(input, next, 1 + Math.floor(next() * 40))) {
      push(chunk);
      for (;;) {
        expect(++reads).toBeLessThan(input.length + 1000);
        let m: T | null;
        try {
          m = read();
        } catch (e) {
          if (!(e instanceof ProtocolViolation)) throw e;
          if (e.fatal) return messages;
          expect(e.frame).toBeInstanceOf(Buffer);
          continue;
        }
        if (m === null) break;
        messages++;
        visit(m);
      }
    }
  } catch (e) {
    if (!(e instanceof ProtocolViolation)) throw e;
  }
  return messages;
}

function onlyViolations(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof ProtocolViolation)) throw e;
  }
}

function visitFrontend(m: FrontendMessage): void {
  if (m.kind === 'authResponse') {
    onlyViolations(() => decodePassword(m));
    onlyViolations(() => decodeSASLInitialResponse(m));
  }
}

const decoders: Partial<Record<number, (frame: Buffer) => unknown>> = {
  [BackendCode.Authentication]: decodeAuthentication,
  [BackendCode.RowDescription]: decodeRowDescription,
  [BackendCode.DataRow]: decodeDataRow,
  [BackendCode.CommandComplete]: decodeCommandComplete,
  [BackendCode.ErrorResponse]: decodeErrorResponse,
  [BackendCode.NoticeResponse]: decodeNoticeResponse,
  [BackendCode.ReadyForQuery]: decodeReadyForQuery,
  [BackendCode.ParameterStatus]: decodeParameterStatus,
  [BackendCode.BackendKeyData]: decodeBackendKeyData,
  [BackendCode.NotificationResponse]: decodeNotificationResponse,
  [BackendCode.ParameterDescription]: decodeParameterDescription,
  [BackendCode.CopyInResponse]: decodeCopyResponse,
  [BackendCode.NegotiateProtocolVersion]: decodeNegotiateProtocolVersion,
};

describe('fuzz', () => {
  it('FrontendParser (normal phase): 4000 seeded inputs', () => {
    const next = rng(0xc0ffee);
    let total = 0;
    for (let i = 0; i < 4000; i++) {
      const p = new FrontendParser({ phase: 'normal' });
      total += drain(
        (b) => p.push(b),
        () => p.read(),
        randomInput(next, frontendFrames),
        next,
        visitFrontend,
      );
    }
    expect(total).toBeGreaterThan(1000);
  });

  it('FrontendParser (startup phase): 3000 seeded inputs', () => {
    const next = rng(42);
    let total = 0;
    for (let i = 0; i < 3000; i++) {
      const p = new FrontendParser();
      const prefix = [startupFrames[Math.floor(next() * startupFrames.length)]!];
      total += drain(
        (b) => p.push(b),
        () => p.read(),
        randomInput(next, frontendFrames, prefix),
        next,
        visitFrontend,
      );
    }
    expect(total).toBeGreaterThan(500);
  });

  it('BackendSplitter + decoders: 4000 seeded inputs', () => {
    const next = rng(2024);
    let total = 0;
    for (let i = 0; i < 4000; i++) {
      const s = new BackendSplitter();
      total += drain(
        (b) => s.push(b),
        () => s.read(),
        randomInput(next, backendFrames),
        next,
        (frame) => {
          const decode = decoders[frame[0]!];
          if (decode) onlyViolations(() => decode(frame));
        },
      );
    }
    expect(total).toBeGreaterThan(1000);
  });

  it('BackendSplitter.readRun emits exactly the bytes read() would: 3000 seeded inputs', () => {
    const next = rng(77);
    const pass = frameTypes(['Z', 'E']);
    const run = (input: Buffer, chunks: Buffer[], useRuns: boolean) => {
      const s = new BackendSplitter();
      const out: Buffer[] = [];
      let error: string | undefined;
      try {
        for (const c of chunks) {
          s.push(c);
          for (;;) {
            const f = (useRuns ? s.readRun(pass) : null) ?? s.read();
            if (!f) break;
            out.push(f);
          }
        }
      } catch (e) {
        if (!(e instanceof ProtocolViolation)) throw e;
        error = e.message;
      }
      const bytes = Buffer.concat(out);
      expect(input.subarray(0, bytes.length).equals(bytes)).toBe(true);
      return { bytes, error };
    };
    for (let i = 0; i < 3000; i++) {
      const input = randomInput(next, backendFrames);
      const chunks = randomChunks(input, next, 1 + Math.floor(next() * 100));
      expect(run(input, chunks, true)).toEqual(run(input, chunks, false));
    }
  });

  it('decoders on random bodies of the right type', () => {
    const next = rng(99);
    for (let i = 0; i < 5000; i++) {
      const codes = Object.keys(decoders).map(Number);
      const code = codes[Math.floor(next() * codes.length)]!;
      const body = Buffer.from(
        Array.from({ length: Math.floor(next() * 40) }, () => (next() < 0.3 ? 0 : next() * 256)),
      );
      const frame = Buffer.concat([header(code, body.length + 4), body]);
      onlyViolations(() => decoders[code]!(frame));
    }
  });
});
