// Round trips per second through the tunnel for small request/response messages
// (the shape of pgbench -S), N concurrent sessions, compared with plain TCP echo
// measured in the same run.  node --import tsx packages/tunnel/bench/latency.ts [sessions] [seconds]
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { TunnelClient, TunnelServer } from '../src/index.js';

const sessions = Number(process.argv[2] ?? 8);
const seconds = Number(process.argv[3] ?? 3);
const request = Buffer.alloc(100, 1);

async function pingPong(streams: Duplex[]): Promise<number> {
  let count = 0;
  const deadline = Date.now() + seconds * 1000;
  await Promise.all(
    streams.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.on('data', () => {
            count++;
            if (Date.now() < deadline) s.write(request);
            else resolve();
          });
          s.write(request);
        }),
    ),
  );
  return count / seconds;
}

// Plain TCP echo as the reference.
const echo = net.createServer((s) => s.pipe(s)).listen(0, '127.0.0.1');
await new Promise((r) => echo.once('listening', r));
const tcpStreams = await Promise.all(
  Array.from(
    { length: sessions },
    () =>
      new Promise<net.Socket>((resolve) => {
        const s = net.connect((echo.address() as net.AddressInfo).port, '127.0.0.1', () => resolve(s));
        s.setNoDelay(true);
      }),
  ),
);
const tcp = await pingPong(tcpStreams);
tcpStreams.forEach((s) => s.destroy());
echo.close();

const server = new TunnelServer({ port: 0, authenticateAgent: async () => ({ agentId: 'a', agentName: 'bench' }) });
const port = await server.listen();
const client = new TunnelClient({
  address: `127.0.0.1:${port}`,
  agentKey: 'k',
  onSession: async (_open, stream) => {
    stream.on('data', (d) => stream.write(d));
  },
}).start();
await new Promise((r) => client.once('connected', r));
const tunnelStreams = await Promise.all(
  Array.from({ length: sessions }, () => server.openSession('bench', { type: 'echo', config: new Uint8Array() })),
);
const tunnel = await pingPong(tunnelStreams);
console.log(
  `${sessions} sessions, 100-byte ping-pong: plain TCP ${tcp.toFixed(0)} rt/s, tunnel ${tunnel.toFixed(0)} rt/s (${(tunnel / tcp).toFixed(2)}x)`,
);
tunnelStreams.forEach((s) => s.destroy());
await client.stop();
await server.close();
process.exit(0);
