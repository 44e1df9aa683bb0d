import type { Connection as SshConnection, ServerChannel, Session, TcpipRequestInfo } from 'ssh2';

type SessionRequest = (accept: () => Session, reject: (() => void) | undefined) => void;
type TcpipRequest = (accept: () => ServerChannel, reject: () => void, info: TcpipRequestInfo) => void;

/**
 * Channel opens that arrive while the connection is still being authorized
 * (database reads after authentication): ssh2 rejects opens nobody listens for, so
 * they wait here until the session (or the refusal) takes them. Session channels and
 * direct-tcpip channels (`ssh -L`, whose first connection can come right after login)
 * wait apart.
 */
export class SessionRequests {
  private readonly pending: Parameters<SessionRequest>[] = [];
  private handler: SessionRequest | undefined;
  private readonly pendingTcpip: Parameters<TcpipRequest>[] = [];
  private tcpipHandler: TcpipRequest | undefined;

  constructor(client: SshConnection) {
    client.on('session', (accept, reject) => {
      if (this.handler) this.handler(accept, reject);
      else this.pending.push([accept, reject]);
    });
    client.on('tcpip', (accept, reject, info) => {
      if (this.tcpipHandler) this.tcpipHandler(accept, reject, info);
      else this.pendingTcpip.push([accept, reject, info]);
    });
  }

  handle(handler: SessionRequest): void {
    this.handler = handler;
    for (const [accept, reject] of this.pending.splice(0)) handler(accept, reject);
  }

  handleTcpip(handler: TcpipRequest): void {
    this.tcpipHandler = handler;
    for (const [accept, reject, info] of this.pendingTcpip.splice(0)) handler(accept, reject, info);
  }
}
