import { status as GrpcStatus, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  TUNNEL_PROTOCOL_BATCH,
  TUNNEL_PROTOCOL_VERSION,
  type AgentFrame,
  type GatewayFrame,
  type SessionOpen,
} from '@warden/proto';
import { FrameWriter } from './frame-writer.js';
import type { TunnelLogger } from './logger.js';
import { SessionTable } from './session-table.js';
import { TunnelError, type TunnelErrorCode } from './tunnel-error.js';
import type { TunnelStream } from './tunnel-stream.js';

/** A session the gateway asks the agent to open. */
export interface SessionOpenRequest {
  sessionId: string;
  /** Connection type, e.g. "postgres". */
  type: string;
  /** Target configuration as the gateway sent it (JSON bytes today). */
  config: Uint8Array;
}

/**
 * Agent-side session handler. Resolve once the target is ready: that sends
 * SessionOpened and lets data flow (writes made earlier wait for it). Throw to
 * refuse: the gateway's openSession rejects with OPEN_FAILED and this error's
 * message (so it must not contain credentials); a string `code` on the error is
 * passed along too. Keep using the stream after resolving; it is yours until it closes.
 */
export type SessionHandler = (open: SessionOpenRequest, stream: TunnelStream) => Promise<void>;

export interface GatewayInfo {
  agentId: string;
  agentName: string;
  gatewayId: string;
  heartbeatIntervalMs: number;
}

export interface GatewayLinkOptions {
  hello: { agentVersion: string; hostname: string; connections: string[]; instanceId: string };
  onSession: SessionHandler;
  onConnected: (info: GatewayInfo) => void;
  helloTimeoutMs: number;
  receiveWindow: number;
  maxFrameBytes: number;
  logger: TunnelLogger;
}

/** How a link ended. */
export interface LinkOutcome {
  code: GrpcStatus;
  details: string;
  /** How long the link was up after HelloAck; null if the handshake never completed. */
  connectedForMs: number | null;
}

const noop = (): void => {};

/** Agent side of one gRPC stream to the gateway: handshake, heartbeats, sessions. */
export class GatewayLink {
  private readonly writer: FrameWriter<AgentFrame>;
  private readonly sessions: SessionTable;
  private connectedAt: number | null = null;
  private lastSeen = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private endCode: TunnelErrorCode = 'GATEWAY_DISCONNECTED';
  private finished: Promise<LinkOutcome>;

  constructor(
    private readonly call: ClientDuplexStream<AgentFrame, GatewayFrame>,
    private readonly options: GatewayLinkOptions,
  ) {
    this.writer = new FrameWriter(call, (body) => ({ $typeName: 'warden.tunnel.v1.AgentFrame', frame: body }));
    this.sessions = new SessionTable(this.writer, options);
    this.finished = new Promise((resolve) => {
      let done = false;
      const finish = (code: GrpcStatus, details: string): void => {
        if (done) return;
        done = true;
        for (const t of this.timers) clearTimeout(t);
        const message = this.endCode === 'SHUTDOWN' ? 'agent shutting down' : `gateway stream ended: ${details}`;
        this.sessions.failAll(new TunnelError(this.endCode, message));
        resolve({ code, details, connectedForMs: this.connectedAt === null ? null : Date.now() - this.connectedAt });
      };
      call.on('status', (s) => finish(s.code, s.details));
      call.on('error', (err: Error & { code?: number; details?: string }) =>
        finish(err.code ?? GrpcStatus.UNKNOWN, err.details ?? err.message),
      );
      call.on('data', (frame: GatewayFrame) => this.handleFrame(frame));
    });
  }

  /** Sends Hello and resolves when the stream ends, for whatever reason. */
  run(): Promise<LinkOutcome> {
    const { hello } = this.options;
    this.writer.send({
      $typeName: 'warden.tunnel.v1.AgentFrame',
      frame: {
        case: 'hello',
        value: {
          $typeName: 'warden.tunnel.v1.Hello',
          agentVersion: hello.agentVersion,
          hostname: hello.hostname,
          connections: hello.connections,
          instanceId: hello.instanceId,
          protocolVersion: TUNNEL_PROTOCOL_VERSION,
        },
      },
    });
    this.timers.push(
      setTimeout(() => {
        if (this.connectedAt === null) {
          this.options.logger.warn('gateway did not answer Hello in time; reconnecting');
          this.call.cancel();
        }
      }, this.options.helloTimeoutMs),
    );
    return this.finished;
  }

  /** Drops the stream. With `shutdown`, live sessions fail with SHUTDOWN instead of GATEWAY_DISCONNECTED. */
  cancel(shutdown = false): void {
    if (shutdown) this.endCode = 'SHUTDOWN';
    this.call.cancel();
  }

  private handleFrame(frame: GatewayFrame): void {
    this.lastSeen = Date.now();
    const body = frame.frame;
    if (this.sessions.route(body)) return;
    switch (body.case) {
      case 'sessionOpen':
        this.openSession(body.value);
        return;
      case 'helloAck': {
        if (this.connectedAt !== null) return;
        this.connectedAt = Date.now();
        if (body.value.protocolVersion >= TUNNEL_PROTOCOL_BATCH) this.writer.enableBatching();
        const heartbeatIntervalMs = body.value.heartbeatIntervalMs || 10_000;
        this.startHeartbeat(heartbeatIntervalMs);
        this.options.onConnected({
          agentId: body.value.agentId,
          agentName: body.value.agentName,
          gatewayId: body.value.gatewayId,
          heartbeatIntervalMs,
        });
        return;
      }
      case 'ping':
        this.writer.send({
          $typeName: 'warden.tunnel.v1.AgentFrame',
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
        return;
      case 'error':
        this.options.logger.warn('gateway reported a tunnel protocol error', {
          code: body.value.code,
          message: body.value.message,
          sessionId: body.value.sessionId || undefined,
        });
        return;
      case undefined:
        return; // a frame type from a newer gateway
    }
  }

  private openSession(open: SessionOpen): void {
    if (this.sessions.has(open.sessionId)) {
      this.options.logger.warn('gateway reused a live session id; ignored', { sessionId: open.sessionId });
      return;
    }
    // Send credit stays 0 until SessionOpened is out, so the handler's early writes wait.
    const stream = this.sessions.create(open.sessionId, 0);
    // An unhandled 'error' on a session must never take the agent down.
    stream.on('error', noop);
    const request: SessionOpenRequest = { sessionId: open.sessionId, type: open.type, config: open.config };
    let handling: Promise<void>;
    try {
      handling = Promise.resolve(this.options.onSession(request, stream));
    } catch (err) {
      handling = Promise.reject(err);
    }
    handling.then(
      () => {
        if (stream.destroyed) return; // the gateway gave up (timeout) or the link dropped meanwhile
        this.writer.send({
          $typeName: 'warden.tunnel.v1.AgentFrame',
          frame: {
            case: 'sessionOpened',
            value: {
              $typeName: 'warden.tunnel.v1.SessionOpened',
              sessionId: open.sessionId,
              initialCredit: this.options.receiveWindow,
            },
          },
        });
        stream.handleCredit(open.initialCredit);
      },
      (err: unknown) => {
        if (stream.destroyed) return;
        const e = err as { message?: unknown; code?: unknown } | null;
        this.writer.send({
          $typeName: 'warden.tunnel.v1.AgentFrame',
          frame: {
            case: 'sessionOpenFailed',
            value: {
              $typeName: 'warden.tunnel.v1.SessionOpenFailed',
              sessionId: open.sessionId,
              code: typeof e?.code === 'string' ? e.code : 'OPEN_FAILED',
              message: typeof e?.message === 'string' ? e.message : String(err),
            },
          },
        });
        // The gateway forgets the session on SessionOpenFailed: close without a Close frame.
        stream.handleClose({ abort: true, reason: '', code: '' });
      },
    );
  }

  private startHeartbeat(intervalMs: number): void {
    const timer = setInterval(() => {
      const silentFor = Date.now() - this.lastSeen;
      if (silentFor > 3 * intervalMs) {
        this.options.logger.warn('gateway missed its heartbeats; reconnecting', { silentForMs: silentFor });
        this.call.cancel();
        return;
      }
      this.writer.send({
        $typeName: 'warden.tunnel.v1.AgentFrame',
        frame: { case: 'ping', value: { $typeName: 'warden.tunnel.v1.Ping', sentAtMs: BigInt(Date.now()) } },
      });
    }, intervalMs);
    this.timers.push(timer);
  }
}
