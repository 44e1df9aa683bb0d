import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { ServiceDefinition } from '@grpc/grpc-js';
import {
  AgentFrameSchema,
  GatewayFrameSchema,
  type AgentFrame,
  type GatewayFrame,
} from './gen/warden/tunnel/v1/tunnel_pb.js';
import { encodeDataFrame } from './data-frame-codec.js';

/** Full gRPC method path of AgentTunnel.Connect. */
export const AGENT_TUNNEL_CONNECT_PATH = '/warden.tunnel.v1.AgentTunnel/Connect';

/** Tunnel protocol revision; sent in Hello/HelloAck so either side can refuse a peer it cannot speak to. */
export const TUNNEL_PROTOCOL_VERSION = 1;

// grpc-js wants Buffers; wrap the encoder's Uint8Array without copying it.
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Data frames take the hand-written fast path; everything else the generic encoder.
// Decoding needs no fast path: protobuf-es returns `bytes` fields as views into the
// received buffer, without copying.
export const serializeAgentFrame = (frame: AgentFrame): Buffer =>
  encodeDataFrame(frame) ?? asBuffer(toBinary(AgentFrameSchema, frame));
export const deserializeAgentFrame = (bytes: Buffer): AgentFrame => fromBinary(AgentFrameSchema, bytes);
export const serializeGatewayFrame = (frame: GatewayFrame): Buffer =>
  encodeDataFrame(frame) ?? asBuffer(toBinary(GatewayFrameSchema, frame));
export const deserializeGatewayFrame = (bytes: Buffer): GatewayFrame => fromBinary(GatewayFrameSchema, bytes);

/**
 * grpc-js service definition for AgentTunnel, built by hand so that messages are
 * (de)serialized by @bufbuild/protobuf: no proto-loader, no protoc at run time,
 * one set of generated types shared by gateway and agent.
 */
export const agentTunnelServiceDefinition = {
  connect: {
    path: AGENT_TUNNEL_CONNECT_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializeAgentFrame,
    requestDeserialize: deserializeAgentFrame,
    responseSerialize: serializeGatewayFrame,
    responseDeserialize: deserializeGatewayFrame,
    originalName: 'connect',
  },
} satisfies ServiceDefinition;
