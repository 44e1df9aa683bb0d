import type { ServerChannel, TcpipRequestInfo } from 'ssh2';
import { encodeSshFrame, SshFrameDecoder, SshFrameType } from '@warden/proto';
import { isTunnelError, type TunnelStream } from '@warden/tunnel';
import type { SshGatewaySession } from './ssh-session.js';

/** How long a forward whose client has closed waits for the target side to finish. */
const CLOSE_GRACE_MS = 30_000;

/**
 * One local port forward (`ssh -L`): a direct-tcpip channel the client opens for each
 * connection to its forwarded port. The tunnel session is opened first (the agent
 * logs in to the target and asks it to connect to host:port, ssh2 forwardOut), and
 * only then is the client's channel accepted, so a connection the target cannot make
 * is refused to the client as OpenSSH's would be. The bytes are relayed as Data/Eof
 * frames with backpressure both ways and are never recorded: the recording gets one
 * `ssh.forward` event at the end with the destination and the byte counts.
 */
export class SshForwardChannel {
  private client: ServerChannel | undefined;
  private tunnel: TunnelStream | undefined;
  private bytesIn = 0;
  private bytesOut = 0;
  private closed = false;
  /** The client closed its end: an end of the session after that does not cut the forward short. */
  private clientGone = false;

  constructor(
    readonly number: number,
    private readonly session: SshGatewaySession,
    private readonly info: TcpipRequestInfo,
    private readonly onClosed: (channel: SshForwardChannel) => void,
  ) {}

  async open(accept: () => ServerChannel, reject: () => void): Promise<void> {
    const { session, info } = this;
    const { connection } = session;
    let tunnel: TunnelStream;
    try {
      tunnel = await session.openChannelTunnel(this.number, {
        type: 'direct-tcpip',
        host: info.destIP,
        port: info.destPort,
        originAddr: info.srcIP,
        originPort: info.srcPort,
      });
    } catch (error) {
      reject();
      if (!this.closed) this.done(describeForwardFailure(error, connection.agent.name));
      return;
    }
    if (this.closed) {
      tunnel.destroy();
      reject();
      return;
    }
    this.tunnel = tunnel;
    const client = accept();
    this.client = client;
    this.relay(tunnel, client);
  }

  private relay(tunnel: TunnelStream, client: ServerChannel): void {
    const { counters } = this.session;
    // Client → target.
    client.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      counters.bytesIn += chunk.length;
      if (!tunnel.destroyed && !tunnel.write(encodeSshFrame.data(chunk))) {
        client.pause();
        tunnel.once('drain', () => client.resume());
      }
    });
    client.on('end', () => {
      if (!tunnel.destroyed) tunnel.write(encodeSshFrame.eof());
    });
    client.on('close', () => this.clientClosed(tunnel));
    client.on('error', () => this.finish());

    // Target → client.
    const decoder = new SshFrameDecoder();
    tunnel.on('data', (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch {
        this.finish('invalid data from the agent');
        return;
      }
      for (const frame of frames) {
        if (frame.type === SshFrameType.Data || frame.type === SshFrameType.Stderr) {
          this.bytesOut += frame.data.length;
          counters.bytesOut += frame.data.length;
          if (!client.write(frame.data)) {
            tunnel.pause();
            client.once('drain', () => tunnel.resume());
          }
        } else if (frame.type === SshFrameType.Eof) {
          // Half-close: the target sent FIN; the client may still send (EOF only, not CLOSE).
          client.eof();
        }
      }
    });
    tunnel.on('end', () => this.finish());
    tunnel.on('error', (error) => {
      const lost = isTunnelError(error, 'AGENT_DISCONNECTED') || isTunnelError(error, 'SHUTDOWN');
      this.finish(lost ? `lost the connection to agent "${this.session.connection.agent.name}"` : 'tunnel error');
    });
  }

  /**
   * The client closed its end: what it sent may still wait for tunnel credit, so the
   * tunnel is ended rather than dropped; the agent closes the target connection and
   * the tunnel's end finishes the channel (or the grace period does).
   */
  private clientClosed(tunnel: TunnelStream): void {
    if (this.closed) return;
    this.clientGone = true;
    if (tunnel.destroyed) return this.finish();
    tunnel.end();
    setTimeout(() => this.finish(), CLOSE_GRACE_MS).unref();
  }

  /** Ends the forwarded connection (the target side ended, or the session ends) and records it once. */
  finish(error?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.tunnel?.destroy();
    // end(), not close(): output still waiting for the client's SSH window goes first.
    this.client?.end();
    this.done(this.clientGone ? undefined : error);
  }

  private done(error: string | undefined): void {
    this.closed = true;
    this.session.recording?.forward(this.number, {
      host: this.info.destIP,
      port: this.info.destPort,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      ...(error ? { error } : {}),
    });
    this.onClosed(this);
  }
}

function describeForwardFailure(error: unknown, agent: string): string {
  if (isTunnelError(error, 'OPEN_FAILED')) return (error as Error).message;
  if (
    isTunnelError(error, 'AGENT_OFFLINE') ||
    isTunnelError(error, 'TIMEOUT') ||
    isTunnelError(error, 'AGENT_DISCONNECTED')
  )
    return `agent "${agent}" is offline`;
  return 'could not open a session to the target';
}
