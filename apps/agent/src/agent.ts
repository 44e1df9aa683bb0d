import { hostname } from 'node:os';
import { decodeSessionOpen } from '@warden/proto';
import { messageFirst, type Logger } from '@warden/runtime';
import { TunnelClient, type SessionOpenRequest, type TunnelClientState, type TunnelStream } from '@warden/tunnel';
import { servePostgresCancel, servePostgresSession } from './postgres/session.js';
import { serveSshSession } from './ssh/session.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  /**
   * Gateway gRPC address, host:port, or several separated by commas: with gateway
   * replicas the agent keeps a stream to each, so a client may land on any of them.
   */
  gatewayAddress: string;
  agentKey: string;
  logger: Logger;
  tls?: boolean;
}

/**
 * The network-resident agent: dials out to the gateway (no inbound rule needed),
 * and serves each session the gateway opens by type. Adding a protocol means adding
 * a case here and a folder beside postgres/.
 */
export class Agent {
  private readonly clients: TunnelClient[];

  constructor(options: AgentOptions) {
    const addresses = options.gatewayAddress
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
    this.clients = addresses.map(
      (address) =>
        new TunnelClient({
          address,
          agentKey: options.agentKey,
          agentVersion: AGENT_VERSION,
          hostname: hostname(),
          tls: options.tls ?? false,
          onSession: (open, stream) => this.serve(open, stream),
          logger: messageFirst(addresses.length > 1 ? options.logger.child({ gateway: address }) : options.logger),
        }),
    );
  }

  /** The state of the stream to each gateway, in the order given. */
  get states(): TunnelClientState[] {
    return this.clients.map((c) => c.state);
  }

  start(): void {
    for (const client of this.clients) client.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop()));
  }

  private async serve(open: SessionOpenRequest, stream: TunnelStream): Promise<void> {
    const payload = decodeSessionOpen(open.config);
    switch (payload.kind) {
      case 'postgres':
        return servePostgresSession(payload, stream);
      case 'postgres-cancel':
        return servePostgresCancel(payload, stream);
      case 'ssh':
        return serveSshSession(payload, stream);
      default:
        throw Object.assign(new Error(`this agent does not serve ${open.type} sessions`), { code: '08001' });
    }
  }
}
