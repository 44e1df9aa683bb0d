/**
 * Throughput micro-benchmark: bytes through the tunnel (gateway → agent, agent →
 * gateway, several sessions at once) against a plain loopback TCP pipe measured in
 * the same run, so numbers are comparable on any machine.
 *
 *   node --import tsx packages/tunnel/bench/throughput.ts [totalMiB=256] [chunkKiB=64] [oneWayDelayMs=0]
 *
 * With a delay, both the TCP pipe and the agent's gRPC connection go through a
 * user-space proxy that holds every chunk for that long in each direction: a crude
 * WAN (latency only, no bandwidth limit) showing what the windows allow per round trip.
 */
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { TunnelClient, TunnelServer, type TunnelStream } from '../src/index.js';

const totalMiB = Number(process.argv[2] ?? 256);
const chunkKiB = Number(process.argv[3] ?? 64);
const TOTAL = totalMiB * 1024 * 1024;
const delayMs = Number(process.argv[4] ?? 0);
const CHUNK = Buffer.alloc(chunkKiB * 1024, 0xab);

/** Listens on a new port and forwards to `port`, delaying every chunk by `delayMs` each way. */
async function delayProxy(port: number): Promise<number> {
  if (delayMs === 0) return port;
  const forward = (from: Socket, to: Socket): void => {
    from.on('data', (d) => setTimeout(() => to.write(d), delayMs));
    from.on('end', () => setTimeout(() => to.end(), delayMs));
    from.on('error', () => to.destroy());
  };
  const proxy = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    forward(client, upstream);
    forward(upstream, client);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  proxy.unref();
  return (proxy.address() as { port: number }).port;
}

/** Writes `bytes` into `stream` honouring backpressure, then ends it. */
async function pump(stream: Duplex, bytes: number): Promise<void> {
  for (let sent = 0; sent < bytes; sent += CHUNK.length) {
    const chunk = bytes - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, bytes - sent);
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  stream.end();
}

/** Reads `stream` to its end, resolving with the byte count ('data' events: for-await would destroy the Duplex). */
function drain(stream: Duplex): Promise<number> {
  let n = 0;
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => (n += chunk.length));
    stream.once('end', () => resolve(n));
    stream.once('error', reject);
  });
}

function report(label: string, bytes: number, startNs: bigint): number {
  const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
  const mbps = bytes / 1e6 / seconds;
  console.log(
    `${label.padEnd(50)} ${(bytes / 1048576).toFixed(0).padStart(5)} MiB in ${seconds.toFixed(2)} s = ${mbps.toFixed(0).padStart(5)} MB/s`,
  );
  return mbps;
}

async function tcpBaseline(): Promise<number> {
  const server = createServer();
  const received = new Promise<number>((resolve) =>
    server.once('connection', (s: Socket) => void drain(s).then(resolve)),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const socket = connect(await delayProxy(port), '127.0.0.1');
  await once(socket, 'connect');
  const start = process.hrtime.bigint();
  await pump(socket, TOTAL);
  const n = await received;
  const mbps = report(delayMs ? 'plain TCP (via the delay proxy, no backpressure)' : 'plain loopback TCP', n, start);
  server.close();
  return mbps;
}

async function main(): Promise<void> {
  console.log(
    `node ${process.version}, ${totalMiB} MiB per run, ${chunkKiB} KiB writes, ${delayMs} ms one-way delay\n`,
  );
  const tcp = await tcpBaseline();

  // Agent sessions: "sink" counts what the gateway sends; "source" sends `config` bytes' worth.
  const sinks = new Map<string, Promise<number>>();
  const server = new TunnelServer({
    port: 0,
    authenticateAgent: async () => ({ agentId: 'bench', agentName: 'bench' }),
  });
  const port = await server.listen();
  const client = new TunnelClient({
    address: `127.0.0.1:${await delayProxy(port)}`,
    agentKey: 'k',
    onSession: async (open, stream: TunnelStream) => {
      if (open.type === 'sink') {
        sinks.set(
          open.sessionId,
          drain(stream).then((n) => {
            stream.end();
            return n;
          }),
        );
      } else void pump(stream, Number(Buffer.from(open.config).toString())).then(() => stream.resume());
    },
  }).start();
  await once(client, 'connected');

  let runs = 0;
  const toAgent = async (sessions: number, label = ''): Promise<number> => {
    const start = process.hrtime.bigint();
    const per = Math.floor(TOTAL / sessions);
    const done = await Promise.all(
      Array.from({ length: sessions }, async (_, i) => {
        const id = `sink-${++runs}-${i}`;
        const s = await server.openSession('bench', { type: 'sink', config: new Uint8Array(), sessionId: id });
        s.resume();
        await pump(s, per);
        return sinks.get(id)!;
      }),
    );
    return report(
      `tunnel gateway → agent, ${sessions} session(s)${label}`,
      done.reduce((a, b) => a + b, 0),
      start,
    );
  };
  const toGateway = async (sessions: number): Promise<number> => {
    const start = process.hrtime.bigint();
    const per = Math.floor(TOTAL / sessions);
    const got = await Promise.all(
      Array.from({ length: sessions }, async () => {
        const s = await server.openSession('bench', { type: 'source', config: Buffer.from(String(per)) });
        const n = await drain(s);
        s.end();
        return n;
      }),
    );
    return report(
      `tunnel agent → gateway, ${sessions} session(s)`,
      got.reduce((a, b) => a + b, 0),
      start,
    );
  };

  await toAgent(1, ' (warm-up)'); // JIT warm-up, left out of the comparison
  const results = [await toAgent(1), await toGateway(1), await toAgent(8), await toGateway(8)];
  console.log(`\nbest tunnel / plain TCP: ${((Math.max(...results) / tcp) * 100).toFixed(0)}%`);
  console.log(`(writes and reads run in this one process for both ends of the tunnel)`);
  await client.stop();
  await server.close();
}

await main();
