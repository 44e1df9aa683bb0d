import type { Socket } from 'node:net';
import { TLSSocket, type SecureContextOptions } from 'node:tls';
import { FrontendParser, ProtocolViolation, type FrontendMessage, type MessageBudget } from '@warden/pg-wire';
import { closeOnceEnded } from '../client-limits.js';

/** The client did not finish its startup in time (08006, as the server's authentication_timeout). */
export class StartupTimeout extends ProtocolViolation {
  constructor(what: string) {
    super(`timed out waiting for ${what}`, '08006');
  }
}

/**
 * A client connection during the startup phase: reads whole frontend messages one at
 * a time (with a deadline, so an idle half-open client cannot hold a slot) and can
 * switch the transport to TLS in place after an SSLRequest.
 */
export class ClientChannel {
  /** Reads the whole connection: the session goes on with it (and with its budget's reservations). */
  readonly parser: FrontendParser;
  socket: Socket;
  tls = false;
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer) => {
    this.parser.push(chunk);
    this.waiter?.();
  };
  private readonly onEnd = () => {
    this.failure ??= new Error('client closed the connection');
    this.waiter?.();
  };

  /** `budget`: the gateway's budget for large client messages, shared by every connection. */
  constructor(socket: Socket, budget?: MessageBudget) {
    this.parser = new FrontendParser(budget ? { budget } : {});
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onEnd);
    socket.off('error', this.onEnd);
  }

  /** The next message; rejects on a protocol violation, disconnect or timeout. */
  async next(timeoutMs: number): Promise<FrontendMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = this.parser.read();
      if (message) return message;
      if (this.failure) throw this.failure;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new StartupTimeout('the client');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve();
        };
      });
    }
  }

  /**
   * Answers an SSLRequest with 'S' and continues over TLS on the same socket. The
   * handshake has the same deadline as the rest of the startup: a client that asks
   * for TLS and then goes quiet must not hold the connection forever.
   */
  async upgradeToTls(context: SecureContextOptions, timeoutMs: number): Promise<void> {
    // Bytes sent after SSLRequest but before the handshake would be read as if they
    // had been encrypted (CVE-2021-23214): refuse them.
    if (this.parser.bufferedLength > 0) throw new ProtocolViolation('unexpected data after SSLRequest');
    const raw = this.socket;
    this.detach(raw);
    raw.write(Buffer.from('S'));
    const secure = new TLSSocket(raw, { isServer: true, ...context });
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        secure.once('secure', resolve);
        secure.once('error', reject);
        timer = setTimeout(() => reject(new StartupTimeout('the TLS handshake')), Math.max(0, timeoutMs));
      });
    } catch (error) {
      // No ErrorResponse can reach a client stuck in (or failing) the TLS handshake.
      secure.destroy();
      raw.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.socket = secure;
    this.tls = true;
    // The raw socket's 'finish' no longer fires: ending the TLS socket must close it too.
    closeOnceEnded(secure);
    this.attach(secure);
  }

  /**
   * Hands the socket to the session: no more listeners from the handshake, and the
   * socket paused, so that bytes a client sends before its startup is answered wait
   * in the socket (a flowing socket without a 'data' listener drops them) until the
   * session starts relaying and resumes it.
   */
  release(): Socket {
    this.socket.pause();
    this.detach(this.socket);
    return this.socket;
  }
}
