import type { Connection as SshConnection, Session } from 'ssh2';

type SessionRequest = (accept: () => Session, reject: (() => void) | undefined) => void;

/**
 * Session channel opens that arrive while the connection is still being authorized
 * (database reads after authentication): ssh2 rejects opens nobody listens for, so
 * they wait here until the session (or the refusal) takes them.
 */
export class SessionRequests {
  private readonly pending: Parameters<SessionRequest>[] = [];
  private handler: SessionRequest | undefined;

  constructor(client: SshConnection) {
    client.on('session', (accept, reject) => {
      if (this.handler) this.handler(accept, reject);
      else this.pending.push([accept, reject]);
    });
  }

  handle(handler: SessionRequest): void {
    this.handler = handler;
    for (const [accept, reject] of this.pending.splice(0)) handler(accept, reject);
  }
}
