import { fromBinary, toBinary } from '@bufbuild/protobuf';
import type { ServiceDefinition } from '@grpc/grpc-js';
import {
  AgentFrameSchema,
  GatewayFrameSchema,
  type AgentFrame,
  type GatewayFrame,
} from './gen/warden/tunnel/v1/tunnel_pb.js';
import { decodeSessionFrame, encodeSessionFrame } from './session-frame-codec.js';

/** Full gRPC method path of AgentTunnel.Connect. */
export const AGENT_TUNNEL_CONNECT_PATH = '/warden.tunnel.v1.AgentTunnel/Connect';

/**
 * Tunnel protocol revision; sent in Hello/HelloAck so either side can refuse a peer
 * it cannot speak to, or fall back to what the peer understands.
 * 1: one session frame per gRPC message.
 * 2: adds Batch (many session frames per gRPC message); sent only to peers at >= 2.
 * Report frames need no new revision: a peer that does not know them ignores them (as any
 * unknown frame), and the one report a gateway cannot do without (a guarded session's
 * facts) is asked for per session, so an agent that predates it fails that session closed.
 */
export const TUNNEL_PROTOCOL_VERSION = 2;

/** First protocol revision that understands Batch frames. */
export const TUNNEL_PROTOCOL_BATCH = 2;

// grpc-js wants Buffers; wrap the encoder's Uint8Array without copying it.
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Session frames (Data, Credit, Close, Report, Batch) take the hand-written fast paths in
// both directions; everything else, and anything unusual, the generic codec.
// Either way `bytes` fields come back as views into the received buffer.
export const serializeAgentFrame = (frame: AgentFrame): Buffer =>
  encodeSessionFrame(frame) ?? asBuffer(toBinary(AgentFrameSchema, frame));
export const deserializeAgentFrame = (bytes: Buffer): AgentFrame =>
  decodeSessionFrame<AgentFrame>(bytes, 'warden.tunnel.v1.AgentFrame') ?? fromBinary(AgentFrameSchema, bytes);
export const serializeGatewayFrame = (frame: GatewayFrame): Buffer =>
  encodeSessionFrame(frame) ?? asBuffer(toBinary(GatewayFrameSchema, frame));
export const deserializeGatewayFrame = (bytes: Buffer): GatewayFrame =>
  decodeSessionFrame<GatewayFrame>(bytes, 'warden.tunnel.v1.GatewayFrame') ?? fromBinary(GatewayFrameSchema, bytes);

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
