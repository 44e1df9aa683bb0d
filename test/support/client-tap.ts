import net from 'node:net';

/**
 * A TCP relay between a test client and the gateway that keeps every byte the gateway sends
 * back. Leak checks read these bytes rather than what a driver chose to parse, so rows, errors
 * (all fields), notices, notifications, COPY data and binary results are all covered, whatever
 * the client: psql, node-postgres, postgres.js or a raw wire client.
 */
export class ClientTap {
  private readonly server: net.Server;
  private received: Buffer[] = [];
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  private constructor(targetPort: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
      this.track(client);
      this.track(upstream);
      upstream.on('data', (chunk: Buffer) => this.received.push(Buffer.from(chunk)));
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) {
        socket.on('error', end);
        socket.on('close', end);
      }
    });
  }

  static async start(targetPort: number): Promise<ClientTap> {
    const tap = new ClientTap(targetPort);
    await new Promise<void>((resolve) => tap.server.listen(0, '127.0.0.1', resolve));
    tap.port = (tap.server.address() as net.AddressInfo).port;
    return tap;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** Everything received since the last call, and forget it. */
  take(): Buffer {
    const all = Buffer.concat(this.received);
    this.received = [];
    return all;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
