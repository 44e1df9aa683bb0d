import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { decodeSessionFrame, encodeSessionFrame } from './session-frame-codec.js';
import {
  AgentFrameSchema,
  BatchSchema,
  CloseSchema,
  CreditSchema,
  DataSchema,
  GatewayFrameSchema,
  PingSchema,
  ReportSchema,
  SessionFrameSchema,
  type AgentFrame,
  type GatewayFrame,
  type SessionFrame,
} from './gen/warden/tunnel/v1/tunnel_pb.js';
import {
  deserializeAgentFrame,
  deserializeGatewayFrame,
  serializeAgentFrame,
  serializeGatewayFrame,
} from './agent-tunnel-service.js';

const dataFrame = (sessionId: string, data: Uint8Array): AgentFrame =>
  create(AgentFrameSchema, { frame: { case: 'data', value: create(DataSchema, { sessionId, data }) } });

type Body = SessionFrame['frame'];
const data = (sessionId: string, size: number): Body => ({
  case: 'data',
  value: create(DataSchema, { sessionId, data: Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff) }),
});
const credit = (sessionId: string, bytes: number): Body => ({
  case: 'credit',
  value: create(CreditSchema, { sessionId, bytes }),
});
const close = (sessionId: string, abort: boolean, reason = '', code = ''): Body => ({
  case: 'close',
  value: create(CloseSchema, { sessionId, abort, reason, code }),
});
const report = (sessionId: string, kind: string, size: number): Body => ({
  case: 'report',
  value: create(ReportSchema, {
    sessionId,
    kind,
    payload: Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff),
  }),
});
const batch = (...bodies: Body[]): GatewayFrame =>
  create(GatewayFrameSchema, {
    frame: {
      case: 'batch',
      value: create(BatchSchema, { frames: bodies.map((frame) => create(SessionFrameSchema, { frame })) }),
    },
  });

/** Fast encode is byte-identical to toBinary, fast decode equal to fromBinary. */
function expectCanonical(frame: GatewayFrame): void {
  const fast = encodeSessionFrame(frame);
  expect(fast).not.toBeNull();
  const generic = toBinary(GatewayFrameSchema, frame);
  expect(Buffer.compare(fast!, Buffer.from(generic))).toBe(0);
  const decoded = decodeSessionFrame<GatewayFrame>(fast!, 'warden.tunnel.v1.GatewayFrame');
  expect(decoded).not.toBeNull();
  expect(decoded).toEqual(fromBinary(GatewayFrameSchema, fast!));
  expect(Buffer.compare(encodeSessionFrame(decoded!)!, fast!)).toBe(0);
}

describe('session frame fast path', () => {
  const cases: Array<[string, string, number]> = [
    ['empty', '', 0],
    ['empty payload', 'sess-1', 0],
    ['no session id', '', 10],
    ['small', '7b0c6a8e-2f3d-4d55-9c51-2b3f1f0f7a10', 5],
    ['127/128 varint boundary', 'x'.repeat(127), 128],
    ['multi-byte utf-8 id', 'séssion-✓', 300],
    ['64 KiB', 's', 65_536],
    ['3 MiB', 's', 3 * 1024 * 1024],
  ];
  for (const [name, sessionId, size] of cases) {
    it(`Data is byte-identical to toBinary: ${name}`, () => {
      const payload = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff);
      const frame = dataFrame(sessionId, payload);
      const fast = encodeSessionFrame(frame);
      expect(fast).not.toBeNull();
      expect(Buffer.compare(fast!, Buffer.from(toBinary(AgentFrameSchema, frame)))).toBe(0);
      const back = decodeSessionFrame<GatewayFrame>(fast!, 'warden.tunnel.v1.GatewayFrame');
      if (back?.frame.case !== 'data') throw new Error('expected data');
      expect(back.frame.value.sessionId).toBe(sessionId);
      expect(Buffer.compare(back.frame.value.data, payload)).toBe(0);
    });
  }

  it('Credit and Close frames, alone and with every field', () => {
    for (const body of [
      credit('s', 0),
      credit('s', 1),
      credit('', 65_536),
      credit('x'.repeat(200), 0xffff_ffff),
      close('s', false),
      close('s', true),
      close('', true, 'target closed', 'TARGET_CLOSED'),
      close('s', false, 'ünïcode ✓ 😀', ''),
    ]) {
      expectCanonical(create(GatewayFrameSchema, { frame: body }));
    }
  });

  it('Report frames, alone and with every field', () => {
    for (const body of [
      report('s', 'facts', 0),
      report('', '', 0),
      report('s', 'masked', 10),
      report('x'.repeat(130), 'fäcts ✓', 300),
      report('s', 'facts', 20_000),
    ]) {
      expectCanonical(create(GatewayFrameSchema, { frame: body }));
      // The agent's frame type carries reports at the same field number.
      const agentFrame = create(AgentFrameSchema, { frame: body });
      const fast = encodeSessionFrame(agentFrame);
      expect(Buffer.compare(fast!, Buffer.from(toBinary(AgentFrameSchema, agentFrame)))).toBe(0);
      expect(deserializeAgentFrame(fast!)).toEqual(fromBinary(AgentFrameSchema, fast!));
    }
  });

  it('Batches that mix reports with data keep their order', () => {
    const frame = batch(report('a', 'facts', 50), data('a', 100), report('a', 'masked', 3), close('a', false));
    expectCanonical(frame);
    const decoded = decodeSessionFrame<GatewayFrame>(encodeSessionFrame(frame)!, 'warden.tunnel.v1.GatewayFrame');
    if (decoded?.frame.case !== 'batch') throw new Error('expected a batch');
    expect(decoded.frame.value.frames.map((f) => f.frame.case)).toEqual(['report', 'data', 'report', 'close']);
  });

  it('Batches of mixed frames', () => {
    expectCanonical(batch());
    expectCanonical(batch(data('a', 100)));
    expectCanonical(batch(data('a', 100), credit('b', 65_536), close('c', true, 'boom', 'X'), data('a', 0)));
    const many: Body[] = [];
    for (let i = 0; i < 300; i++)
      many.push(i % 3 === 0 ? data(`s${i}`, i * 7) : i % 3 === 1 ? credit(`s${i}`, i) : close(`s${i}`, i % 2 === 0));
    expectCanonical(batch(...many));
    expectCanonical(batch(data('big', 20_000), data('x'.repeat(130), 128)));
  });

  it('leaves other frames to the generic codec', () => {
    const ping: GatewayFrame = create(GatewayFrameSchema, {
      frame: { case: 'ping', value: create(PingSchema, { sentAtMs: 1_700_000_000_000n }) },
    });
    expect(encodeSessionFrame(ping)).toBeNull();
    const wire = serializeGatewayFrame(ping);
    expect(decodeSessionFrame(wire, 'warden.tunnel.v1.GatewayFrame')).toBeNull();
    expect(deserializeGatewayFrame(wire)).toEqual(ping);
    // Unknown fields (a newer peer) are preserved by the generic path.
    const withUnknown = Buffer.concat([serializeGatewayFrame(batch(data('a', 3))), Buffer.from([0x98, 0x01, 0x05])]);
    expect(decodeSessionFrame(withUnknown, 'warden.tunnel.v1.GatewayFrame')).toBeNull();
    expect(deserializeGatewayFrame(withUnknown).$unknown?.length).toBe(1);
  });

  it('round-trips through the grpc serializers, payload as a view (no copy on decode)', () => {
    const frame = dataFrame('abc', new Uint8Array([1, 2, 3]));
    const wire = serializeAgentFrame(frame);
    const decoded = deserializeAgentFrame(wire);
    if (decoded.frame.case !== 'data') throw new Error('expected data');
    expect(decoded.frame.value.sessionId).toBe('abc');
    expect([...decoded.frame.value.data]).toEqual([1, 2, 3]);
    expect(decoded.frame.value.data.buffer).toBe(wire.buffer);
    expect(Buffer.isBuffer(decoded.frame.value.data)).toBe(true);
  });

  it('agrees with fromBinary (or defers to it) on truncated and corrupted input', () => {
    const wire = serializeGatewayFrame(
      batch(
        data('sess-1', 40),
        credit('sess-2', 300),
        close('sess-3', true, 'r', 'c'),
        data('', 0),
        report('sess-4', 'facts', 30),
      ),
    );
    let rng = 12345;
    const random = (n: number): number => {
      rng = (rng * 1_103_515_245 + 12_345) & 0x7fff_ffff;
      return rng % n;
    };
    const inputs: Buffer[] = [];
    for (let cut = 0; cut < wire.length; cut++) inputs.push(wire.subarray(0, cut));
    for (let i = 0; i < 3000; i++) {
      const mutated = Buffer.from(wire);
      for (let k = 0; k <= random(3); k++) mutated[random(mutated.length)] = random(256);
      inputs.push(mutated);
    }
    let accepted = 0;
    for (const input of inputs) {
      const fast = decodeSessionFrame<GatewayFrame>(input, 'warden.tunnel.v1.GatewayFrame');
      if (fast === null) continue;
      accepted++;
      // Whatever the fast path accepts, the generic decoder reads identically.
      expect(fast).toEqual(fromBinary(GatewayFrameSchema, input));
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('rejects invalid UTF-8 in strings like the generic decoder does', () => {
    const wire = serializeGatewayFrame(batch(data('sé', 1)));
    const at = wire.indexOf(Buffer.from('sé'));
    const bad = Buffer.from(wire);
    bad[at + 1] = 0xff; // 'é' is two bytes: break the first one
    expect(decodeSessionFrame(bad, 'warden.tunnel.v1.GatewayFrame')).toBeNull();
    expect(() => deserializeGatewayFrame(bad)).toThrow();
  });
});
