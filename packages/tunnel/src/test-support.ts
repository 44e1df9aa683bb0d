// Helpers shared by the tunnel tests (real gRPC on 127.0.0.1, nothing mocked).
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { Client, credentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  AGENT_TUNNEL_CONNECT_PATH,
  deserializeGatewayFrame,
  serializeAgentFrame,
  type AgentFrame,
  type GatewayFrame,
} from '@warden/proto';
import type { TunnelLogger } from './logger.js';
import { TunnelClient, type TunnelClientOptions } from './tunnel-client.js';
import { TunnelServer, type TunnelServerOptions } from './tunnel-server.js';

export const GOOD_KEY = 'agent-key-good';

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  msg: string;
  fields?: Record<string, unknown>;
}

export function recordingLogger(): TunnelLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (msg, fields) => lines.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
  };
}

export async function startServer(options: Partial<TunnelServerOptions> = {}): Promise<TunnelServer> {
  const server = new TunnelServer({
    port: 0,
    authenticateAgent: async (key) => (key === GOOD_KEY ? { agentId: 'agent-1', agentName: 'default' } : null),
    ...options,
  });
  await server.listen();
  return server;
}

/** Starts a client and waits until it is connected (or just started, with `wait: false`). */
export async function startClient(
  port: number,
  options: Partial<TunnelClientOptions> & Pick<TunnelClientOptions, 'onSession'>,
  wait = true,
): Promise<TunnelClient> {
  const client = new TunnelClient({
    address: `127.0.0.1:${port}`,
    agentKey: GOOD_KEY,
    backoff: { initialMs: 50, maxMs: 200 },
    ...options,
  });
  const connected = once(client, 'connected');
  client.start();
  if (wait) await connected;
  return client;
}

export async function waitFor(predicate: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Writes `total` random bytes in chunks of varying size (1 B .. maxChunk), honouring backpressure; returns their SHA-256. */
export async function writeRandom(stream: Duplex, total: number, maxChunk = 200_000): Promise<string> {
  const hash = createHash('sha256');
  const pool = randomBytes(Math.min(total, 4 * 1024 * 1024));
  let sent = 0;
  while (sent < total) {
    const size = Math.min(total - sent, 1 + Math.floor(Math.random() * maxChunk));
    const start = Math.floor(Math.random() * (pool.length - size + 1));
    // Copy: the stream may still hold the chunk when we pick the next slice of the pool.
    const chunk = Buffer.from(pool.subarray(start, start + size));
    hash.update(chunk);
    sent += size;
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
  return hash.digest('hex');
}

/**
 * Reads the stream to its end; returns byte count and SHA-256. Uses 'data' events
 * rather than for-await, which would destroy a Duplex whose writable side is still open.
 */
export function readAll(stream: Duplex): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    stream.once('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    stream.once('error', reject);
  });
}

/** A bare gRPC AgentTunnel call, for driving the server with frames the real client would never send. */
export function rawAgentCall(
  port: number,
  key: string,
): {
  call: ClientDuplexStream<AgentFrame, GatewayFrame>;
  status: Promise<{ code: number; details: string }>;
  close(): void;
} {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${key}`);
  const call = client.makeBidiStreamRequest(
    AGENT_TUNNEL_CONNECT_PATH,
    serializeAgentFrame,
    deserializeGatewayFrame,
    metadata,
  );
  call.on('error', () => {});
  const status = new Promise<{ code: number; details: string }>((resolve) => call.on('status', resolve));
  return {
    call,
    status,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

export function helloFrame(instanceId: string): AgentFrame {
  return {
    $typeName: 'warden.tunnel.v1.AgentFrame',
    frame: {
      case: 'hello',
      value: {
        $typeName: 'warden.tunnel.v1.Hello',
        agentVersion: 'raw',
        hostname: 'raw-host',
        connections: ['pg-prod'],
        instanceId,
        protocolVersion: 1,
      },
    },
  };
}
