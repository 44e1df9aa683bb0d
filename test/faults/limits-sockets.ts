import { readdirSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeError, password, startupPacket, type ErrorFields } from '../support/wire.js';

// Raw client sockets for the limits tests (limits-*.test.ts): what a client sees of the gateway's
// connection caps, startup timeout and buffer budget, and whether the gateway really let go of a
// socket (its descriptor) rather than leaving it half-open.

/** Open descriptors of a process (Linux /proc). */
export function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Open descriptors of a process once the count has not changed for half a second. */
export async function settledDescriptors(pid: number, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = openDescriptors(pid);
  for (;;) {
    await sleep(500);
    const now = openDescriptors(pid);
    if (now === last || Date.now() > deadline) return now;
    last = now;
  }
}

/** Polls until `check` holds; throws `what` with the last value after `timeoutMs`. */
export async function eventually<T>(
  read: () => T | Promise<T>,
  check: (value: T) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!check(value)) {
    if (Date.now() > deadline) throw new Error(`${what}; last value: ${JSON.stringify(value)}`);
    await sleep(100);
    value = await read();
  }
  return value;
}

/**
 * A client socket that never closes its side on its own (allowHalfOpen): when the gateway ends the
 * connection the client sees 'end' and stays open, so whether the gateway's side is really gone is
 * for the gateway to show.
 */
export class RawClient {
  received = Buffer.alloc(0);
  /** The gateway ended its side (FIN). */
  ended = false;
  closed = false;
  error: NodeJS.ErrnoException | undefined;
  private constructor(readonly socket: net.Socket | tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    socket.on('end', () => (this.ended = true));
    socket.on('close', () => (this.closed = true));
    socket.on('error', (err) => (this.error ??= err));
  }

  static connect(port: number, localAddress = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress, allowHalfOpen: true });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  /** SSLRequest, 'S', then a TLS handshake on the same socket (as libpq with sslmode=require). */
  static async connectTls(port: number): Promise<RawClient> {
    const raw = await new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
    const answer = new Promise<Buffer>((resolve) => raw.once('data', resolve));
    const request = Buffer.alloc(8);
    request.writeInt32BE(8, 0);
    request.writeInt32BE(80877103, 4);
    raw.write(request);
    const reply = await answer;
    if (reply.toString() !== 'S') throw new Error(`SSLRequest answered ${JSON.stringify(reply.toString())}`);
    const secure = tls.connect({
      socket: raw,
      rejectUnauthorized: false,
      allowHalfOpen: true,
    } as tls.ConnectionOptions);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    return new RawClient(secure);
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  /** The first ErrorResponse received, decoded; null when none (yet). */
  errorResponse(): ErrorFields | null {
    let at = 0;
    while (at + 5 <= this.received.length) {
      const len = this.received.readInt32BE(at + 1);
      if (at + 1 + len > this.received.length) return null;
      if (this.received[at] === 0x45) return decodeError(this.received.subarray(at + 5, at + 1 + len));
      at += 1 + len;
    }
    return null;
  }

  /** Waits for a whole message of this type (a letter) and returns its body. */
  async message(type: string, timeoutMs = 20_000): Promise<Buffer> {
    let body: Buffer | undefined;
    await eventually(
      () => {
        body = this.find(type);
        return body !== undefined || this.closed;
      },
      (done) => done,
      `no '${type}' message`,
      timeoutMs,
    );
    if (!body) throw new Error(`closed without a '${type}' message; got ${this.received.length} bytes`);
    return body;
  }

  async waitEnded(timeoutMs = 20_000): Promise<void> {
    await eventually(
      () => this.ended || this.closed,
      (v) => v,
      'the gateway did not end the connection',
      timeoutMs,
    );
  }

  /**
   * Whether the gateway's socket is gone (closed, not only ended): a byte sent to a closed socket
   * is answered with a reset (EPIPE/ECONNRESET here); a half-open one would take it silently.
   */
  async resetOnWrite(timeoutMs = 3_000): Promise<boolean> {
    // The first byte may be taken (the reset it causes comes back later): write until refused.
    const deadline = Date.now() + timeoutMs;
    while (this.error === undefined && !this.socket.destroyed && Date.now() < deadline) {
      this.socket.write(Buffer.from([0]));
      await sleep(100);
    }
    return this.error !== undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private find(type: string): Buffer | undefined {
    let at = 0;
    while (at + 5 <= this.received.length) {
      const len = this.received.readInt32BE(at + 1);
      if (at + 1 + len > this.received.length) return undefined;
      if (this.received[at] === type.charCodeAt(0)) return this.received.subarray(at + 5, at + 1 + len);
      at += 1 + len;
    }
    return undefined;
  }
}

/** Startup packet for the gateway's `pg-test` connection. */
export function startup(): Buffer {
  return startupPacket({ user: 'tester', database: 'pg-test' });
}

/** Logs in through to ReadyForQuery; returns the client and the BackendKeyData (for a cancel). */
export async function loginRaw(
  port: number,
  token: string,
): Promise<{ client: RawClient; processId: number; secretKey: number }> {
  const client = await RawClient.connect(port);
  client.write(startup());
  await client.message('R');
  client.write(password(token));
  await client.message('Z');
  const key = await client.message('K');
  client.received = Buffer.alloc(0);
  return { client, processId: key.readInt32BE(0), secretKey: key.readInt32BE(4) };
}

export function cancelRequest(processId: number, secretKey: number): Buffer {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processId, 8);
  packet.writeInt32BE(secretKey, 12);
  return packet;
}

/** Samples of one metric from a Prometheus text exposition, by its label set as written. */
export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

/** The value of `name{labels}` (labels as `a="b",c="d"`, in exposition order); 0 when absent. */
export function metric(text: string, name: string, labels = ''): number {
  const wanted = labels ? `${name}{${labels}}` : name;
  for (const line of text.split('\n')) {
    const space = line.lastIndexOf(' ');
    if (line.slice(0, space) === wanted) return Number(line.slice(space + 1));
  }
  return 0;
}
