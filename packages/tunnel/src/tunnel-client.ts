import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Client, credentials as grpcCredentials, Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import { AGENT_TUNNEL_CONNECT_PATH, deserializeGatewayFrame, serializeAgentFrame } from '@warden/proto';
import { Backoff, type BackoffOptions } from './backoff.js';
import { DEFAULT_HTTP2_WINDOW_BYTES } from './http2-window.js';
import { GatewayLink, type GatewayInfo, type LinkOutcome, type SessionHandler } from './gateway-link.js';
import { silentLogger, type TunnelLogger } from './logger.js';
import { DEFAULT_MAX_FRAME_BYTES, DEFAULT_WINDOW_BYTES } from './tunnel-stream.js';

export type TunnelClientState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'stopped';

export interface TunnelClientTlsOptions {
  /** PEM CA bundle to verify the gateway; default: the system roots. */
  rootCerts?: Buffer;
  /** Client certificate and key, for gateways that require mutual TLS. */
  privateKey?: Buffer;
  certChain?: Buffer;
}

export interface TunnelClientOptions {
  /** Gateway gRPC address, "host:port". */
  address: string;
  /** Sent as `authorization: Bearer <key>`. */
  agentKey: string;
  onSession: SessionHandler;
  logger?: TunnelLogger;
  /** Plaintext by default (the gateway usually sits behind a TLS-terminating LB or on a private network). */
  tls?: boolean | TunnelClientTlsOptions;
  /** Full control over channel credentials; wins over `tls`. */
  credentials?: ChannelCredentials;
  /** Shown in the gateway's agent list. */
  agentVersion?: string;
  hostname?: string;
  connections?: string[];
  /** Identifies this process across reconnects; default a random UUID. */
  instanceId?: string;
  /** Reconnect delays: full jitter, 0.5 s doubling up to 30 s by default. */
  backoff?: BackoffOptions;
  /** A link that stayed up this long resets the backoff; shorter flaps keep escalating. Default 10 s. */
  stableAfterMs?: number;
  /** How long to wait for HelloAck. Default 10 s. */
  helloTimeoutMs?: number;
  /** Per-session receive window in bytes. Default 256 KiB. */
  receiveWindow?: number;
  /** Largest Data frame payload. Default 64 KiB. */
  maxFrameBytes?: number;
  /** Extra grpc-js channel options. */
  channelOptions?: ChannelOptions;
}

/**
 * Agent side of the tunnel: keeps one stream to the gateway open, forever, until
 * stop(). Every attempt uses a fresh gRPC channel so that our backoff, not grpc-js's
 * own channel backoff, decides when to retry.
 *
 * Events: 'state' (TunnelClientState), 'connected' (GatewayInfo),
 * 'disconnected' ({ code, details }).
 */
export class TunnelClient extends EventEmitter {
  private currentState: TunnelClientState = 'idle';
  private readonly logger: TunnelLogger;
  private readonly backoff: Backoff;
  private readonly instanceId: string;
  private link: GatewayLink | null = null;
  private stopping = false;
  private wakeFromBackoff: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private info: GatewayInfo | null = null;

  constructor(private readonly options: TunnelClientOptions) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.backoff = new Backoff(options.backoff);
    this.instanceId = options.instanceId ?? randomUUID();
  }

  get state(): TunnelClientState {
    return this.currentState;
  }

  /** What the gateway said in its last HelloAck, while connected. */
  get gateway(): GatewayInfo | null {
    return this.currentState === 'connected' ? this.info : null;
  }

  /** Starts connecting in the background; idempotent. */
  start(): this {
    if (!this.loop && !this.stopping) this.loop = this.run();
    return this;
  }

  /** Closes the stream (live sessions fail with SHUTDOWN) and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.link?.cancel(true);
    this.wakeFromBackoff?.();
    await this.loop;
    this.setState('stopped');
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      this.setState('connecting');
      const outcome = await this.connectOnce();
      if (this.stopping) break;
      this.emit('disconnected', { code: outcome.code, details: outcome.details });
      if (outcome.connectedForMs !== null && outcome.connectedForMs >= (this.options.stableAfterMs ?? 10_000)) {
        this.backoff.reset();
      }
      const delay = this.backoff.next();
      this.logOutcome(outcome, delay);
      this.setState('backoff');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeFromBackoff = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeFromBackoff = null;
    }
  }

  private async connectOnce(): Promise<LinkOutcome> {
    const client = new Client(this.options.address, this.channelCredentials(), {
      // One HTTP/2 stream carries every session; its default 64 KiB window would cap the
      // whole tunnel at 64 KiB per round trip. Session credits bound buffering instead.
      'grpc-node.flow_control_window': DEFAULT_HTTP2_WINDOW_BYTES,
      ...this.options.channelOptions,
    });
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${this.options.agentKey}`);
    const call = client.makeBidiStreamRequest(
      AGENT_TUNNEL_CONNECT_PATH,
      serializeAgentFrame,
      deserializeGatewayFrame,
      metadata,
    );
    const link = new GatewayLink(call, {
      hello: {
        agentVersion: this.options.agentVersion ?? '',
        hostname: this.options.hostname ?? hostname(),
        connections: this.options.connections ?? [],
        instanceId: this.instanceId,
      },
      onSession: this.options.onSession,
      onConnected: (info) => {
        this.info = info;
        this.logger.info('connected to gateway', {
          address: this.options.address,
          gatewayId: info.gatewayId,
          agent: info.agentName,
        });
        this.setState('connected');
        this.emit('connected', info);
      },
      helloTimeoutMs: this.options.helloTimeoutMs ?? 10_000,
      receiveWindow: this.options.receiveWindow ?? DEFAULT_WINDOW_BYTES,
      maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      logger: this.logger,
    });
    this.link = link;
    if (this.stopping) link.cancel(true); // stop() ran before there was a link to cancel
    try {
      return await link.run();
    } finally {
      this.link = null;
      client.close();
    }
  }

  private logOutcome(outcome: LinkOutcome, delayMs: number): void {
    const retry = `retrying in ${(delayMs / 1000).toFixed(1)} s`;
    const status = `${GrpcStatus[outcome.code] ?? outcome.code}: ${outcome.details}`;
    if (outcome.code === GrpcStatus.UNAUTHENTICATED) {
      // Not transient by nature, but keys get fixed or re-provisioned without restarting
      // the agent, so keep retrying with backoff rather than exit.
      this.logger.error(`gateway rejected the agent key (${status}); check the agent key; ${retry}`, {
        address: this.options.address,
        attempt: this.backoff.attempts,
      });
    } else if (outcome.connectedForMs !== null) {
      this.logger.warn(`lost the gateway stream (${status}); ${retry}`, { address: this.options.address });
    } else {
      this.logger.warn(`cannot reach the gateway (${status}); ${retry}`, {
        address: this.options.address,
        attempt: this.backoff.attempts,
      });
    }
  }

  private channelCredentials(): ChannelCredentials {
    if (this.options.credentials) return this.options.credentials;
    const tls = this.options.tls;
    if (!tls) return grpcCredentials.createInsecure();
    if (tls === true) return grpcCredentials.createSsl();
    return grpcCredentials.createSsl(tls.rootCerts ?? null, tls.privateKey ?? null, tls.certChain ?? null);
  }

  private setState(state: TunnelClientState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', state);
  }
}
