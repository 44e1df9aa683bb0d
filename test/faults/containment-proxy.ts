import net from 'node:net';

/**
 * A TCP proxy a test owns, in front of a shared service (Redis, the local Postgres), so the test can
 * take the service away from the processes it started without touching the service itself.
 *
 * - `cut()`: every connection is reset and new ones are closed on arrival (the service is "down").
 * - `blackhole()`: connections stay open but nothing passes either way (a hung service or network).
 * - `restore()`: pass traffic again; connections held while black-holed are reset so clients reopen them.
 */
export interface FaultProxy {
  port: number;
  /** `redis://127.0.0.1:<port>` style URL: `url(scheme, path)`. */
  url(scheme: string, path?: string): string;
  readonly mode: 'pass' | 'cut' | 'blackhole';
  /** Connections accepted so far (tests check the processes really went through the proxy). */
  readonly accepted: number;
  cut(): void;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket | undefined }>();
  let mode: FaultProxy['mode'] = 'pass';
  let accepted = 0;

  const server = net.createServer((client) => {
    accepted += 1;
    client.on('error', () => {});
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const pair: { client: net.Socket; upstream: net.Socket | undefined } = { client, upstream: undefined };
    pairs.add(pair);
    client.on('close', () => {
      pairs.delete(pair);
      pair.upstream?.destroy();
    });
    if (mode === 'blackhole') {
      // Accepted, then silence: whatever the client sends is read and dropped.
      client.on('data', () => {});
      return;
    }
    const upstream = net.connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.on('close', () => client.destroy());
    client.on('data', (chunk) => {
      if (mode === 'pass') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (mode === 'pass') client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  function dropAll(): void {
    for (const pair of [...pairs]) {
      pair.client.resetAndDestroy();
      pair.upstream?.destroy();
      pairs.delete(pair);
    }
  }

  return {
    port,
    url: (scheme, path = '') => `${scheme}://127.0.0.1:${port}${path}`,
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    cut() {
      mode = 'cut';
      dropAll();
    },
    blackhole() {
      mode = 'blackhole';
    },
    restore() {
      const was = mode;
      mode = 'pass';
      if (was === 'blackhole') dropAll();
    },
    async close() {
      mode = 'cut';
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
