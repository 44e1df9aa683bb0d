// Round trips per second through the tunnel for small request/response messages
// (the shape of pgbench -S), N concurrent sessions, compared with plain TCP echo
// measured in the same run.  node --import tsx packages/tunnel/bench/latency.ts [sessions] [seconds]
// Also prints the process CPU time per round trip (both tunnel ends run in this one
// process), which moves far less than rt/s when the machine is shared and busy.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { TunnelClient, TunnelServer } from '../src/index.js';

const sessions = Number(process.argv[2] ?? 8);
const seconds = Number(process.argv[3] ?? 3);
const request = Buffer.alloc(100, 1);

/** Round trips per second and CPU microseconds per round trip. */
async function pingPong(streams: Duplex[]): Promise<{ rate: number; cpuUs: number }> {
  let count = 0;
  const cpu = process.cpuUsage();
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
  const used = process.cpuUsage(cpu);
  return { rate: count / seconds, cpuUs: (used.user + used.system) / count };
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
  `${sessions} sessions, 100-byte ping-pong: plain TCP ${tcp.rate.toFixed(0)} rt/s (${tcp.cpuUs.toFixed(1)} µs CPU/rt), ` +
    `tunnel ${tunnel.rate.toFixed(0)} rt/s (${tunnel.cpuUs.toFixed(1)} µs CPU/rt) = ${(tunnel.rate / tcp.rate).toFixed(2)}x`,
);
tunnelStreams.forEach((s) => s.destroy());
await client.stop();
await server.close();
process.exit(0);
