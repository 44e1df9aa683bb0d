import { randomUUID } from 'node:crypto';
import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import {
  TUNNEL_PROTOCOL_BATCH,
  TUNNEL_PROTOCOL_VERSION,
  type AgentFrame,
  type GatewayFrame,
  type Hello,
} from '@warden/proto';
import { FrameWriter } from './frame-writer.js';
import type { TunnelLogger } from './logger.js';
import { SessionTable } from './session-table.js';
import { TunnelError } from './tunnel-error.js';
import type { TunnelStream } from './tunnel-stream.js';

/** What the gateway knows about one connected agent stream. */
export interface ConnectedAgent {
  /** Unique per stream (an agent that reconnects gets a new one). */
  connectionId: string;
  agentId: string;
  agentName: string;
  /** Random id of the agent process; equal ids mean a reconnect of the same process. */
  instanceId: string;
  agentVersion: string;
  hostname: string;
  /** Connection names the agent says it serves. */
  connections: string[];
  /** Remote address as gRPC reports it, e.g. "ipv4:10.0.0.7:51234". */
  peer: string;
  connectedAt: Date;
}

export interface AgentConnectionOptions {
  agentId: string;
  agentName: string;
  gatewayId: string;
  heartbeatIntervalMs: number;
  helloTimeoutMs: number;
  receiveWindow: number;
  maxFrameBytes: number;
  logger: TunnelLogger;
}

interface PendingOpen {
  stream: TunnelStream;
  resolve: (stream: TunnelStream) => void;
  reject: (err: TunnelError) => void;
  timer: NodeJS.Timeout;
}

const noop = (): void => {};

type Call = ServerDuplexStream<AgentFrame, GatewayFrame>;

/** Gateway side of one agent's stream: handshake, heartbeats, and the sessions multiplexed on it. */
export class AgentConnection {
  readonly connectionId = randomUUID();
  info: ConnectedAgent | null = null;
  private readonly writer: FrameWriter<GatewayFrame>;
  private readonly sessions: SessionTable;
  private readonly pending = new Map<string, PendingOpen>();
  private lastSeen = Date.now();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private onGone: (reason: string) => void = noop;

  constructor(
    private readonly call: Call,
    private readonly options: AgentConnectionOptions,
  ) {
    this.writer = new FrameWriter(call, (body) => ({ $typeName: 'warden.tunnel.v1.GatewayFrame', frame: body }));
    this.sessions = new SessionTable(this.writer, options);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Waits for Hello, answers HelloAck and starts serving frames. Resolves with the
   * agent's info, or null when the stream ended or misbehaved before that.
   * `onGone` runs once when the stream ends for any reason after a successful handshake.
   */
  handshake(onGone: (reason: string) => void): Promise<ConnectedAgent | null> {
    return new Promise((resolve) => {
      const helloTimer = setTimeout(() => {
        this.close(GrpcStatus.DEADLINE_EXCEEDED, 'no Hello received');
        resolve(null);
      }, this.options.helloTimeoutMs);
      const settle = (info: ConnectedAgent | null): void => {
        clearTimeout(helloTimer);
        resolve(info);
      };

      const end = (reason: string) => () => {
        settle(null);
        this.teardown(reason);
      };
      this.call.on('cancelled', end('agent cancelled the stream'));
      this.call.on('end', () => {
        end('agent closed the stream')();
        if (this.call.writable) {
          this.writer.flush();
          this.call.end(); // finish the RPC with OK
        }
      });
      this.call.on('close', end('stream closed'));
      this.call.on('error', (err) => end(`stream error: ${err.message}`)());

      this.call.on('data', (frame: AgentFrame) => {
        this.lastSeen = Date.now();
        if (this.info) {
          this.handleFrame(frame);
          return;
        }
        if (frame.frame.case !== 'hello') {
          this.close(GrpcStatus.FAILED_PRECONDITION, 'first frame must be Hello');
          settle(null);
          return;
        }
        const hello = frame.frame.value;
        if (hello.protocolVersion > TUNNEL_PROTOCOL_VERSION) {
          this.close(
            GrpcStatus.FAILED_PRECONDITION,
            `agent speaks tunnel protocol ${hello.protocolVersion}, gateway ${TUNNEL_PROTOCOL_VERSION}`,
          );
          settle(null);
          return;
        }
        this.info = this.describe(hello);
        this.onGone = onGone;
        this.writer.send({
          $typeName: 'warden.tunnel.v1.GatewayFrame',
          frame: {
            case: 'helloAck',
            value: {
              $typeName: 'warden.tunnel.v1.HelloAck',
              agentId: this.options.agentId,
              agentName: this.options.agentName,
              gatewayId: this.options.gatewayId,
              heartbeatIntervalMs: this.options.heartbeatIntervalMs,
              protocolVersion: TUNNEL_PROTOCOL_VERSION,
            },
          },
        });
        if (hello.protocolVersion >= TUNNEL_PROTOCOL_BATCH) this.writer.enableBatching();
        this.startHeartbeatWatch();
        settle(this.info);
      });
    });
  }

  openSession(sessionId: string, type: string, config: Uint8Array, timeoutMs: number): Promise<TunnelStream> {
    if (this.closed) return Promise.reject(new TunnelError('AGENT_DISCONNECTED', 'agent disconnected'));
    if (this.sessions.has(sessionId)) return Promise.reject(new TypeError(`duplicate session id ${sessionId}`));
    // Credit towards the agent stays 0 until SessionOpened grants it, so nothing is sent early.
    const stream = this.sessions.create(sessionId, 0);
    // An unhandled 'error' on a session must never take the gateway down.
    stream.on('error', noop);
    return new Promise<TunnelStream>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(sessionId);
        stream.abort('TIMEOUT', 'session open timed out');
        reject(new TunnelError('TIMEOUT', `agent did not open the session within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(sessionId, { stream, resolve, reject, timer });
      this.writer.send({
        $typeName: 'warden.tunnel.v1.GatewayFrame',
        frame: {
          case: 'sessionOpen',
          value: {
            $typeName: 'warden.tunnel.v1.SessionOpen',
            sessionId,
            type,
            config,
            initialCredit: this.options.receiveWindow,
          },
        },
      });
    });
  }

  /** Ends the agent's stream with a gRPC status and fails everything on it. */
  close(code: GrpcStatus, details: string): void {
    const wasClosed = this.closed;
    this.teardown(details);
    if (!wasClosed && this.call.writable) {
      // grpc-js turns an emitted error into the call's final status.
      this.call.emit('error', Object.assign(new Error(details), { code, details }));
    }
  }

  private handleFrame(frame: AgentFrame): void {
    const body = frame.frame;
    if (this.sessions.route(body)) return;
    switch (body.case) {
      case 'sessionOpened': {
        const p = this.pending.get(body.value.sessionId);
        if (!p) return; // timed out already; the agent got a Close
        this.pending.delete(body.value.sessionId);
        clearTimeout(p.timer);
        p.stream.handleCredit(body.value.initialCredit);
        p.resolve(p.stream);
        return;
      }
      case 'sessionOpenFailed': {
        const p = this.pending.get(body.value.sessionId);
        if (!p) return;
        this.pending.delete(body.value.sessionId);
        clearTimeout(p.timer);
        // The agent already dropped the session: close locally without sending anything.
        p.stream.handleClose({ abort: true, reason: '', code: '' });
        p.reject(new TunnelError('OPEN_FAILED', body.value.message, body.value.code || undefined));
        return;
      }
      case 'ping':
        this.writer.send({
          $typeName: 'warden.tunnel.v1.GatewayFrame',
          frame: {
            case: 'pong',
            value: {
              $typeName: 'warden.tunnel.v1.Pong',
              pingSentAtMs: body.value.sentAtMs,
              sentAtMs: BigInt(Date.now()),
            },
          },
        });
        return;
      case 'pong':
        return; // lastSeen was already refreshed
      case 'error':
        this.options.logger.warn('agent reported a tunnel protocol error', {
          agent: this.options.agentName,
          code: body.value.code,
          message: body.value.message,
          sessionId: body.value.sessionId || undefined,
        });
        return;
      case 'hello':
        this.options.logger.warn('agent sent a second Hello; ignored', { agent: this.options.agentName });
        return;
      case undefined:
        return; // a frame type from a newer agent: ignore rather than break the stream
    }
  }

  private startHeartbeatWatch(): void {
    const interval = this.options.heartbeatIntervalMs;
    this.heartbeatTimer = setInterval(() => {
      const silentFor = Date.now() - this.lastSeen;
      if (silentFor > 3 * interval) {
        this.options.logger.warn('agent missed its heartbeats; dropping it', {
          agent: this.options.agentName,
          silentForMs: silentFor,
        });
        this.close(GrpcStatus.UNAVAILABLE, 'heartbeat timeout');
      }
    }, interval);
    this.heartbeatTimer.unref();
  }

  private teardown(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    const err = new TunnelError('AGENT_DISCONNECTED', `agent disconnected: ${reason}`);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.sessions.failAll(err);
    if (this.info) this.onGone(reason);
  }

  private describe(hello: Hello): ConnectedAgent {
    return {
      connectionId: this.connectionId,
      agentId: this.options.agentId,
      agentName: this.options.agentName,
      instanceId: hello.instanceId,
      agentVersion: hello.agentVersion,
      hostname: hello.hostname,
      connections: [...hello.connections],
      peer: this.call.getPeer(),
      connectedAt: new Date(),
    };
  }
}
