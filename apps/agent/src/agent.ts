import { hostname } from 'node:os';
import { decodeSessionOpen } from '@warden/proto';
import { messageFirst, type Logger } from '@warden/runtime';
import { TunnelClient, type SessionOpenRequest, type TunnelStream } from '@warden/tunnel';
import { servePostgresCancel, servePostgresSession } from './postgres/session.js';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  /** Gateway gRPC address, host:port. */
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
  private readonly client: TunnelClient;

  constructor(options: AgentOptions) {
    const log = options.logger;
    this.client = new TunnelClient({
      address: options.gatewayAddress,
      agentKey: options.agentKey,
      agentVersion: AGENT_VERSION,
      hostname: hostname(),
      tls: options.tls ?? false,
      onSession: (open, stream) => this.serve(open, stream),
      logger: messageFirst(log),
    });
  }

  get state() {
    return this.client.state;
  }

  start(): void {
    this.client.start();
  }

  stop(): Promise<void> {
    return this.client.stop();
  }

  private async serve(open: SessionOpenRequest, stream: TunnelStream): Promise<void> {
    const payload = decodeSessionOpen(open.config);
    switch (payload.kind) {
      case 'postgres':
        return servePostgresSession(payload, stream);
      case 'postgres-cancel':
        return servePostgresCancel(payload, stream);
      default:
        throw Object.assign(new Error(`this agent does not serve ${open.type} sessions`), { code: '08001' });
    }
  }
}
