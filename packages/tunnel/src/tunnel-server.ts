import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerDuplexStream,
  type ServerOptions,
} from '@grpc/grpc-js';
import { agentTunnelServiceDefinition, type AgentFrame, type GatewayFrame } from '@warden/proto';
import { AgentConnection, type ConnectedAgent } from './agent-connection.js';
import { DEFAULT_HTTP2_WINDOW_BYTES, tuneServerConnections } from './http2-window.js';
import { silentLogger, type TunnelLogger } from './logger.js';
import { TunnelError } from './tunnel-error.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_WINDOW_BYTES, type TunnelStream } from './tunnel-stream.js';

export interface AuthenticatedAgent {
  agentId: string;
  agentName: string;
}

export interface AgentDisconnectInfo {
  reason: string;
  /** Streams still open for the same agent name; 0 means the agent is now offline. */
  remainingConnections: number;
}

export interface TunnelServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8010; 0 picks a free port (see `port` after listen()). */
  port?: number;
  /** Resolves the key from `authorization: Bearer <key>`; null rejects the agent with UNAUTHENTICATED. */
  authenticateAgent: (key: string) => Promise<AuthenticatedAgent | null>;
  /** Default insecure (plaintext h2c); pass ServerCredentials.createSsl(...) for TLS. */
  credentials?: ServerCredentials;
  /** Sent to agents in HelloAck. Default `<hostname>-<random>`. */
  gatewayId?: string;
  /** How often agents ping; an agent silent for ~3 intervals is dropped. Default 10 s. */
  heartbeatIntervalMs?: number;
  /** How long an authenticated agent has to send Hello. Default 10 s. */
  helloTimeoutMs?: number;
  /** Default timeout of openSession(). Default 10 s. */
  openTimeoutMs?: number;
  /** Per-session receive window (flow-control credit) in bytes. Default 256 KiB. */
  receiveWindow?: number;
  /** Largest Data frame payload. Default 64 KiB. */
  maxFrameBytes?: number;
  /** HTTP/2 receive window of agent streams (see http2-window.ts). Default 16 MiB. */
  http2WindowBytes?: number;
  logger?: TunnelLogger;
  /** An agent stream completed its handshake (e.g. mark the agent online). Errors are logged. */
  onAgentConnected?: (agent: ConnectedAgent) => void | Promise<void>;
  /** An agent stream ended; check `remainingConnections === 0` before marking the agent offline. */
  onAgentDisconnected?: (agent: ConnectedAgent, info: AgentDisconnectInfo) => void | Promise<void>;
  /** Extra grpc-js server options (keepalive, message limits...). */
  grpcOptions?: ServerOptions;
}

export interface OpenSessionOptions {
  /** Connection type, e.g. "postgres". */
  type: string;
  /** Target configuration, opaque to the tunnel. */
  config: Uint8Array;
  /** Default a random UUID; pass the control plane's session id to correlate logs. */
  sessionId?: string;
  /** Overrides the server's openTimeoutMs. */
  timeoutMs?: number;
}

/**
 * Gateway side of the agent tunnel: a gRPC server agents dial into, and the
 * registry of connected agents that sessions are opened on.
 *
 * Same agent name connected more than once: a reconnect from the same agent
 * process (same Hello.instance_id) replaces the old stream at once, since the old
 * one is almost certainly a dead TCP connection not noticed yet. Streams from
 * different processes under the same name (replicas of one agent) are all kept;
 * new sessions go to the one with the fewest live sessions, most recent first.
 */
export class TunnelServer {
  private readonly server: Server;
  private readonly agents = new Map<string, Map<string, AgentConnection>>();
  private readonly handshaking = new Set<AgentConnection>();
  private readonly logger: TunnelLogger;
  private readonly gatewayId: string;
  private boundPort: number | null = null;
  private closing = false;

  constructor(private readonly options: TunnelServerOptions) {
    this.logger = options.logger ?? silentLogger;
    this.gatewayId = options.gatewayId ?? `${hostname()}-${randomUUID().slice(0, 8)}`;
    this.server = new Server({
      // HTTP/2 pings reap connections whose agent vanished without a FIN (the app-level
      // heartbeat already failed its sessions; this frees the transport itself).
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
      ...options.grpcOptions,
    });
    this.server.addService(agentTunnelServiceDefinition, {
      connect: (call: ServerDuplexStream<AgentFrame, GatewayFrame>) => void this.handleCall(call),
    });
  }

  /** Binds and starts serving; resolves with the bound port. */
  listen(): Promise<number> {
    const host = this.options.host ?? '127.0.0.1';
    const address = `${host.includes(':') ? `[${host}]` : host}:${this.options.port ?? 8010}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, this.options.credentials ?? ServerCredentials.createInsecure(), (err, port) => {
        if (err) return reject(err);
        tuneServerConnections(this.server, this.options.http2WindowBytes ?? DEFAULT_HTTP2_WINDOW_BYTES, this.logger);
        this.boundPort = port;
        resolve(port);
      });
    });
  }

  /** The bound port; throws before listen() resolved. */
  get port(): number {
    if (this.boundPort === null) throw new Error('TunnelServer is not listening');
    return this.boundPort;
  }

  /** Agent streams that completed their handshake. */
  listAgents(): ConnectedAgent[] {
    const out: ConnectedAgent[] = [];
    for (const conns of this.agents.values()) for (const c of conns.values()) if (c.info) out.push(c.info);
    return out;
  }

  isConnected(agentName: string): boolean {
    return (this.agents.get(agentName)?.size ?? 0) > 0;
  }

  /**
   * Opens a session to a target through the named agent. Rejects with a TunnelError:
   * AGENT_OFFLINE at once when the agent has no stream here, OPEN_FAILED with the
   * agent's message, TIMEOUT, or AGENT_DISCONNECTED if the stream drops meanwhile.
   */
  openSession(agentName: string, options: OpenSessionOptions): Promise<TunnelStream> {
    const conn = this.pickConnection(agentName);
    if (!conn) return Promise.reject(new TunnelError('AGENT_OFFLINE', `agent "${agentName}" is not connected`));
    return conn.openSession(
      options.sessionId ?? randomUUID(),
      options.type,
      options.config,
      options.timeoutMs ?? this.options.openTimeoutMs ?? 10_000,
    );
  }

  /** Ends every stream of an agent (e.g. its key was revoked). */
  disconnectAgent(agentName: string, reason = 'disconnected by the gateway'): void {
    for (const c of [...(this.agents.get(agentName)?.values() ?? [])]) c.close(GrpcStatus.UNAVAILABLE, reason);
  }

  /** Tells agents to reconnect elsewhere, fails live sessions, and stops the server. */
  async close(graceMs = 2_000): Promise<void> {
    this.closing = true;
    for (const c of [...this.handshaking]) c.close(GrpcStatus.UNAVAILABLE, 'gateway shutting down');
    for (const conns of [...this.agents.values()]) {
      for (const c of [...conns.values()]) c.close(GrpcStatus.UNAVAILABLE, 'gateway shutting down');
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private pickConnection(agentName: string): AgentConnection | undefined {
    let best: AgentConnection | undefined;
    // Map iteration is insertion order, so ">=" prefers the most recent on ties.
    for (const c of this.agents.get(agentName)?.values() ?? []) {
      if (!best || c.sessionCount <= best.sessionCount) best = c;
    }
    return best;
  }

  private async handleCall(call: ServerDuplexStream<AgentFrame, GatewayFrame>): Promise<void> {
    const reject = (code: GrpcStatus, details: string): void => {
      call.emit('error', Object.assign(new Error(details), { code, details }));
    };
    if (this.closing) return reject(GrpcStatus.UNAVAILABLE, 'gateway shutting down');
    const header = call.metadata.get('authorization')[0];
    const key = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1] : undefined;
    if (!key) return reject(GrpcStatus.UNAUTHENTICATED, 'missing agent key (authorization: Bearer <key>)');

    let auth: AuthenticatedAgent | null;
    try {
      auth = await this.options.authenticateAgent(key);
    } catch (err) {
      // Fail closed, but as UNAVAILABLE: the agent should retry, its key may well be fine.
      this.logger.error('agent authentication failed with an error', { error: (err as Error).message });
      return reject(GrpcStatus.UNAVAILABLE, 'agent authentication unavailable');
    }
    if (!auth) {
      this.logger.warn('agent rejected: invalid agent key', { peer: call.getPeer() });
      return reject(GrpcStatus.UNAUTHENTICATED, 'invalid agent key');
    }
    if (call.cancelled || this.closing) return;

    const conn = new AgentConnection(call, {
      agentId: auth.agentId,
      agentName: auth.agentName,
      gatewayId: this.gatewayId,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 10_000,
      helloTimeoutMs: this.options.helloTimeoutMs ?? 10_000,
      receiveWindow: this.options.receiveWindow ?? DEFAULT_WINDOW_BYTES,
      maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      logger: this.logger,
    });
    this.handshaking.add(conn);
    const info = await conn.handshake((reason) => this.unregister(conn, reason));
    this.handshaking.delete(conn);
    // The stream may have died in the same tick as its Hello; onGone already ran then.
    if (!info || conn.isClosed) return;
    this.register(conn, info);
  }

  private register(conn: AgentConnection, info: ConnectedAgent): void {
    let conns = this.agents.get(info.agentName);
    if (!conns) this.agents.set(info.agentName, (conns = new Map()));
    const replaced = [...conns.values()].filter((old) => info.instanceId && old.info?.instanceId === info.instanceId);
    // Add the new stream before dropping the old one, so the agent never looks offline in between.
    conns.set(conn.connectionId, conn);
    for (const old of replaced)
      old.close(GrpcStatus.ABORTED, 'replaced by a newer stream from the same agent instance');
    this.logger.info('agent connected', {
      agent: info.agentName,
      hostname: info.hostname,
      version: info.agentVersion,
      peer: info.peer,
      connections: conns.size,
    });
    this.runHook('onAgentConnected', () => this.options.onAgentConnected?.(info));
  }

  private unregister(conn: AgentConnection, reason: string): void {
    const info = conn.info;
    if (!info) return;
    const conns = this.agents.get(info.agentName);
    if (!conns?.delete(conn.connectionId)) return;
    if (conns.size === 0) this.agents.delete(info.agentName);
    const remainingConnections = conns.size;
    this.logger.info('agent disconnected', { agent: info.agentName, reason, remainingConnections });
    this.runHook('onAgentDisconnected', () =>
      this.options.onAgentDisconnected?.(info, { reason, remainingConnections }),
    );
  }

  private runHook(name: string, fn: () => void | Promise<void> | undefined): void {
    const fail = (err: unknown): void => this.logger.error(`${name} hook failed`, { error: (err as Error)?.message });
    try {
      void Promise.resolve(fn()).catch(fail);
    } catch (err) {
      fail(err);
    }
  }
}
