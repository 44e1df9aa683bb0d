import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { encodeDataFrame } from './data-frame-codec.js';
import {
  AgentFrameSchema,
  DataSchema,
  GatewayFrameSchema,
  PingSchema,
  type AgentFrame,
  type GatewayFrame,
} from './gen/warden/tunnel/v1/tunnel_pb.js';
import { deserializeAgentFrame, serializeAgentFrame, serializeGatewayFrame } from './agent-tunnel-service.js';

const dataFrame = (sessionId: string, data: Uint8Array): AgentFrame =>
  create(AgentFrameSchema, { frame: { case: 'data', value: create(DataSchema, { sessionId, data }) } });

describe('Data frame fast path', () => {
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
    it(`is byte-identical to toBinary: ${name}`, () => {
      const data = Uint8Array.from({ length: size }, (_, i) => (i * 31) & 0xff);
      const frame = dataFrame(sessionId, data);
      const fast = encodeDataFrame(frame);
      expect(fast).not.toBeNull();
      expect(Buffer.compare(fast!, Buffer.from(toBinary(AgentFrameSchema, frame)))).toBe(0);
      const back = fromBinary(GatewayFrameSchema, fast!);
      expect(back.frame.case).toBe('data');
      expect(back.frame.value).toMatchObject({ sessionId });
    });
  }

  it('leaves other frames to the generic encoder', () => {
    const ping: GatewayFrame = create(GatewayFrameSchema, {
      frame: { case: 'ping', value: create(PingSchema, { sentAtMs: 1_700_000_000_000n }) },
    });
    expect(encodeDataFrame(ping)).toBeNull();
    expect(fromBinary(GatewayFrameSchema, serializeGatewayFrame(ping))).toEqual(ping);
  });

  it('round-trips through the grpc serializers, payload as a view (no copy on decode)', () => {
    const frame = dataFrame('abc', new Uint8Array([1, 2, 3]));
    const wire = serializeAgentFrame(frame);
    const decoded = deserializeAgentFrame(wire);
    if (decoded.frame.case !== 'data') throw new Error('expected data');
    expect(decoded.frame.value.sessionId).toBe('abc');
    expect([...decoded.frame.value.data]).toEqual([1, 2, 3]);
    expect(decoded.frame.value.data.buffer).toBe(wire.buffer);
  });
});
