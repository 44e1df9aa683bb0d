import { describe, expect, it } from 'vitest';
import { serialize } from 'pg-protocol';
import { BufferWriter } from './buffer-writer.js';
import {
  FrontendParser,
  decodeFrontendFrame,
  decodePassword,
  decodeSASLInitialResponse,
  decodeSASLResponse,
  isTlsClientHello,
  type FrontendParserOptions,
} from './frontend-parser.js';
import type { AuthResponseMessage, FrontendMessage } from './frontend-messages.js';
import { ProtocolViolation } from './protocol-violation.js';
import { byteChunks, randomChunks, rng } from './test-helpers.js';

function parseAll(chunks: Buffer[], options?: FrontendParserOptions): FrontendMessage[] {
  const p = new FrontendParser(options);
  const out: FrontendMessage[] = [];
  for (const c of chunks) out.push(...p.parse(c));
  expect(p.bufferedLength).toBe(0);
  return out;
}

const gssEncRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);

function functionCall(oid: number, args: (Buffer | null)[], argFormats: number[], resultFormat: number): Buffer {
  const w = new BufferWriter().startMessage(0x46).uint32(oid).int16(argFormats.length);
  for (const f of argFormats) w.int16(f);
  w.int16(args.length);
  for (const a of args) {
    if (a === null) w.int32(-1);
    else w.int32(a.length).bytes(a);
  }
  return w.int16(resultFormat).endMessage().finish();
}

/** A whole client session in the order a client sends it, with what we expect to decode. */
function session(): { frames: Buffer[]; expected: Partial<FrontendMessage>[] } {
  const pairs: [Buffer, Record<string, unknown>][] = [
    [serialize.requestSsl(), { kind: 'sslRequest' }],
    [gssEncRequest, { kind: 'gssEncRequest' }],
    [
      serialize.startup({ user: 'alice', database: 'pg-prod', application_name: 'psql ✓' }),
      {
        kind: 'startup',
        protocolVersion: 196608,
        parameters: { user: 'alice', database: 'pg-prod', application_name: 'psql ✓', client_encoding: 'UTF8' },
      },
    ],
    [serialize.password('tok_secret'), { kind: 'authResponse' }],
    [serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=abc'), { kind: 'authResponse' }],
    [serialize.sendSCRAMClientFinalMessage('c=biws,r=abc,p=xyz'), { kind: 'authResponse' }],
    [serialize.query('select 1; -- ünïcode'), { kind: 'query', text: 'select 1; -- ünïcode' }],
    [serialize.query(''), { kind: 'query', text: '' }],
    [
      serialize.parse({ name: 'st1', text: 'select $1::int, $2', types: [23, 0xffffffff] }),
      { kind: 'parse', name: 'st1', query: 'select $1::int, $2', paramTypes: [23, 0xffffffff] },
    ],
    [serialize.parse({ text: 'select 1' }), { kind: 'parse', name: '', query: 'select 1', paramTypes: [] }],
    [
      serialize.bind({ portal: 'p1', statement: 'st1', values: ['42', null, Buffer.from([0, 1, 2])], binary: true }),
      {
        kind: 'bind',
        portal: 'p1',
        statement: 'st1',
        paramFormats: [0, 0, 1],
        params: [Buffer.from('42'), null, Buffer.from([0, 1, 2])],
        resultFormats: [1],
      },
    ],
    [serialize.bind(), { kind: 'bind', portal: '', statement: '', paramFormats: [], params: [], resultFormats: [0] }],
    [serialize.describe({ type: 'S', name: 'st1' }), { kind: 'describe', target: 'S', name: 'st1' }],
    [serialize.describe({ type: 'P' }), { kind: 'describe', target: 'P', name: '' }],
    [serialize.execute({ portal: 'p1', rows: 100 }), { kind: 'execute', portal: 'p1', maxRows: 100 }],
    [serialize.execute(), { kind: 'execute', portal: '', maxRows: 0 }],
    [serialize.flush(), { kind: 'flush' }],
    [serialize.sync(), { kind: 'sync' }],
    [serialize.close({ type: 'S', name: 'st1' }), { kind: 'close', target: 'S', name: 'st1' }],
    [serialize.close({ type: 'P', name: 'p1' }), { kind: 'close', target: 'P', name: 'p1' }],
    [serialize.copyData(Buffer.from('1\tone\n')), { kind: 'copyData', data: Buffer.from('1\tone\n') }],
    [serialize.copyData(Buffer.alloc(0)), { kind: 'copyData', data: Buffer.alloc(0) }],
    [serialize.copyDone(), { kind: 'copyDone' }],
    [serialize.copyFail('client gave up'), { kind: 'copyFail', message: 'client gave up' }],
    [
      functionCall(1598, [Buffer.from('x'), null], [0], 1),
      { kind: 'functionCall', functionOid: 1598, argFormats: [0], args: [Buffer.from('x'), null], resultFormat: 1 },
    ],
    [serialize.end(), { kind: 'terminate' }],
  ];
  return { frames: pairs.map((p) => p[0]), expected: pairs.map((p) => p[1] as Partial<FrontendMessage>) };
}

function check(messages: FrontendMessage[], frames: Buffer[], expected: Partial<FrontendMessage>[]): void {
  expect(messages).toHaveLength(expected.length);
  messages.forEach((m, i) => {
    expect(m).toMatchObject(expected[i]!);
    expect(m.frame.equals(frames[i]!)).toBe(true);
  });
}

describe('FrontendParser round trips (messages built by pg-protocol serialize)', () => {
  it('decodes every message type, one chunk per message', () => {
    const { frames, expected } = session();
    check(parseAll(frames), frames, expected);
  });

  it('decodes a whole pipelined session from one chunk, zero-copy', () => {
    const { frames, expected } = session();
    const all = Buffer.concat(frames);
    const messages = parseAll([all]);
    check(messages, frames, expected);
    for (const m of messages) expect(m.frame.buffer).toBe(all.buffer);
  });

  it('decodes single whole frames on their own (decodeFrontendFrame), as the stream parser does', () => {
    // From the first typed message on: startup-phase packets have no type byte.
    const { frames, expected } = session();
    const typed = expected.findIndex((m) => m.kind === 'query');
    check(
      frames.slice(typed).map((frame) => decodeFrontendFrame(frame)),
      frames.slice(typed),
      expected.slice(typed),
    );
  });

  it('refuses, as decodeFrontendFrame, a frame that is not exactly one message', () => {
    const bind = serialize.bind({ statement: 's', values: ['1'] });
    expect(() => decodeFrontendFrame(bind.subarray(0, bind.length - 1))).toThrow(ProtocolViolation);
    expect(() => decodeFrontendFrame(Buffer.concat([bind, serialize.sync()]))).toThrow(ProtocolViolation);
    expect(() => decodeFrontendFrame(Buffer.from([0x7a, 0, 0, 0, 4]))).toThrow(/invalid frontend message type/);
  });

  it('decodes when fed byte by byte', () => {
    const { frames, expected } = session();
    check(parseAll(byteChunks(Buffer.concat(frames))), frames, expected);
  });

  it('decodes with random chunk boundaries', () => {
    const { frames, expected } = session();
    const all = Buffer.concat(frames);
    const next = rng(7);
    for (let i = 0; i < 200; i++) check(parseAll(randomChunks(all, next, 1 + (i % 50))), frames, expected);
  });

  it('decodes a pgbench-like extended batch (Parse/Bind/Describe/Execute/Sync) pipelined many times', () => {
    const batch = Buffer.concat([
      serialize.parse({ text: 'UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2' }),
      serialize.bind({ values: ['-4001', '77'] }),
      serialize.describe({ type: 'P' }),
      serialize.execute(),
      serialize.sync(),
    ]);
    const stream = Buffer.concat(Array.from({ length: 1000 }, () => batch));
    const messages = parseAll(randomChunks(stream, rng(3), 4096), { phase: 'normal' });
    expect(messages).toHaveLength(5000);
    expect(messages.map((m) => m.kind).slice(0, 5)).toEqual(['parse', 'bind', 'describe', 'execute', 'sync']);
    const bind = messages[4996];
    expect(bind).toMatchObject({ kind: 'bind', params: [Buffer.from('-4001'), Buffer.from('77')] });
  });

  it('reassembles a large CopyData split into socket-sized chunks', () => {
    const payload = Buffer.alloc(5 * 1024 * 1024, 0x61);
    const frame = serialize.copyData(payload);
    const [m] = parseAll(randomChunks(frame, rng(1), 65536), { phase: 'normal' });
    expect(m).toMatchObject({ kind: 'copyData' });
    expect((m as { data: Buffer }).data.equals(payload)).toBe(true);
  });

  it('switches phase only after StartupMessage', () => {
    const p = new FrontendParser();
    expect(p.phase).toBe('startup');
    p.push(serialize.requestSsl());
    expect(p.read()?.kind).toBe('sslRequest');
    expect(p.phase).toBe('startup');
    p.push(serialize.startup({ user: 'u' }));
    expect(p.read()?.kind).toBe('startup');
    expect(p.phase).toBe('normal');
  });

  it('reads a Terminate sent before the startup packet, also byte by byte and after an SSLRequest', () => {
    const terminate = Buffer.from([0x58, 0, 0, 0, 4]);
    expect(parseAll([terminate])).toMatchObject([{ kind: 'terminate' }]);
    expect(parseAll(byteChunks(terminate))).toMatchObject([{ kind: 'terminate' }]);
    expect(parseAll([serialize.requestSsl(), terminate]).map((m) => m.kind)).toEqual(['sslRequest', 'terminate']);
    // Anything else starting with 'X' is still a startup packet of an absurd length.
    const p = new FrontendParser();
    p.push(Buffer.from([0x58, 0, 0, 0, 5, 0]));
    expect(() => p.read()).toThrow(ProtocolViolation);
  });

  it('reports bytes sent ahead of the TLS handshake', () => {
    const p = new FrontendParser();
    p.push(Buffer.concat([serialize.requestSsl(), serialize.query('select 1')]));
    expect(p.read()?.kind).toBe('sslRequest');
    expect(p.bufferedLength).toBeGreaterThan(0);
  });

  it('tells a direct-TLS ClientHello from a startup packet', () => {
    expect(isTlsClientHello(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))).toBe(true);
    expect(isTlsClientHello(serialize.startup({ user: 'u' }))).toBe(false);
    expect(isTlsClientHello(serialize.requestSsl())).toBe(false);
  });

  it('decodes CancelRequest', () => {
    const [m] = parseAll([serialize.cancel(4242, -123456)]);
    expect(m).toMatchObject({ kind: 'cancelRequest', processId: 4242, secretKey: -123456 });
  });

  it('accepts protocol 3.2 startup and long cancel keys', () => {
    const w = new BufferWriter();
    w.int32(0).int32(0x00030002).cstring('user').cstring('u').byte(0);
    const startup = w.finish();
    startup.writeInt32BE(startup.length, 0);
    expect(parseAll([startup])[0]).toMatchObject({ kind: 'startup', protocolVersion: 0x00030002 });
    const key = Buffer.alloc(32, 7);
    const cancel = Buffer.concat([Buffer.from([0, 0, 0, 44, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 9]), key]);
    const [c] = parseAll([cancel]);
    expect(c).toMatchObject({ kind: 'cancelRequest', processId: 9, secretKeyBytes: key });
  });

  it('startup parameters cannot pollute prototypes', () => {
    const w = new BufferWriter().int32(0).int32(196608);
    w.cstring('__proto__').cstring('a').cstring('constructor').cstring('b').byte(0);
    const packet = w.finish();
    packet.writeInt32BE(packet.length, 0);
    const [m] = parseAll([packet]);
    expect(m).toMatchObject({ kind: 'startup' });
    const params = (m as { parameters: Record<string, string> }).parameters;
    expect(Object.getPrototypeOf(params)).toBe(null);
    expect(Object.keys(params)).toEqual(['__proto__', 'constructor']);
    expect(params['__proto__']).toBe('a');
    expect(({} as Record<string, unknown>)['a']).toBeUndefined();
  });
});

describe("'p' message helpers", () => {
  const p = new FrontendParser({ phase: 'normal' });
  const one = (b: Buffer) => p.parse(b)[0] as AuthResponseMessage;

  it('decodes a password', () => {
    expect(decodePassword(one(serialize.password('s3cr3t ✓')))).toBe('s3cr3t ✓');
  });

  it('decodes a SASL initial response', () => {
    const r = decodeSASLInitialResponse(one(serialize.sendSASLInitialResponseMessage('SCRAM-SHA-256', 'n,,n=,r=x')));
    expect(r.mechanism).toBe('SCRAM-SHA-256');
    expect(r.data?.toString()).toBe('n,,n=,r=x');
  });

  it('decodes a SASL response', () => {
    expect(decodeSASLResponse(one(serialize.sendSCRAMClientFinalMessage('c=biws'))).toString()).toBe('c=biws');
  });

  it('rejects malformed bodies with a non-fatal ProtocolViolation', () => {
    const bad = one(Buffer.from([0x70, 0, 0, 0, 7, 0x61, 0x62, 0x63])); // no terminator
    expect(() => decodePassword(bad)).toThrow(ProtocolViolation);
    expect(() => decodeSASLInitialResponse(bad)).toThrow(ProtocolViolation);
    const shortData = one(Buffer.from([0x70, 0, 0, 0, 12, 0x41, 0, 0, 0, 0, 9, 1, 2]));
    expect(() => decodeSASLInitialResponse(shortData)).toThrow(/insufficient data/);
  });
});

describe('malformed bodies are non-fatal', () => {
  function expectNonFatal(frame: Buffer, pattern: RegExp, code = '08P01'): void {
    const p = new FrontendParser({ phase: 'normal' });
    p.push(Buffer.concat([frame, serialize.sync()]));
    let err: unknown;
    try {
      p.read();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolViolation);
    const v = err as ProtocolViolation;
    expect(v.message).toMatch(pattern);
    expect(v.code).toBe(code);
    expect(v.fatal).toBe(false);
    expect(v.frame?.equals(frame)).toBe(true);
    // The stream is still in sync.
    expect(p.read()?.kind).toBe('sync');
  }

  it('query without terminator', () => expectNonFatal(Buffer.from([0x51, 0, 0, 0, 6, 0x61, 0x62]), /invalid string/));
  it('query with trailing bytes', () =>
    expectNonFatal(Buffer.from([0x51, 0, 0, 0, 7, 0x61, 0, 0x62]), /invalid message format/));
  it('describe with a bad subtype', () =>
    expectNonFatal(Buffer.from([0x44, 0, 0, 0, 6, 0x58, 0]), /invalid DESCRIBE message subtype/));
  it('bind with format count mismatch', () => {
    const w = new BufferWriter().startMessage(0x42).cstring('').cstring('');
    w.int16(2).int16(0).int16(0).int16(3);
    for (let i = 0; i < 3; i++) w.int32(1).byte(0x31);
    expectNonFatal(w.int16(0).endMessage().finish(), /2 parameter formats but 3 parameters/);
  });
  it('bind with a parameter longer than the message', () => {
    const w = new BufferWriter().startMessage(0x42).cstring('').cstring('').int16(0).int16(1).int32(1000);
    expectNonFatal(w.int16(0).endMessage().finish(), /insufficient data/);
  });
  it('bind claiming 65535 parameters', () => {
    const w = new BufferWriter().startMessage(0x42).cstring('').cstring('').int16(0).uint16(65535);
    expectNonFatal(w.endMessage().finish(), /insufficient data/);
  });
  it('bind with a negative parameter length', () => {
    const w = new BufferWriter().startMessage(0x42).cstring('').cstring('').int16(0).int16(1).int32(-2);
    expectNonFatal(w.int16(0).endMessage().finish(), /invalid parameter length/);
  });
  it('parse with a wrong type count', () => {
    const w = new BufferWriter().startMessage(0x50).cstring('').cstring('select 1').int16(2).int32(23);
    expectNonFatal(w.endMessage().finish(), /invalid message format/);
  });
  it('invalid UTF-8 in query text (22021)', () =>
    expectNonFatal(Buffer.from([0x51, 0, 0, 0, 8, 0x27, 0x82, 0x5c, 0]), /UTF8/, '22021'));

  it('a genuine U+FFFD passes strict UTF-8', () => {
    const p = new FrontendParser({ phase: 'normal' });
    expect(p.parse(serialize.query("select '\uFFFD'"))[0]).toMatchObject({ text: "select '\uFFFD'" });
  });

  it('invalid UTF-8 passes when strictUtf8 is off', () => {
    const p = new FrontendParser({ phase: 'normal', strictUtf8: false });
    expect(p.parse(Buffer.from([0x51, 0, 0, 0, 8, 0x27, 0x82, 0x5c, 0]))[0]?.kind).toBe('query');
  });
});
