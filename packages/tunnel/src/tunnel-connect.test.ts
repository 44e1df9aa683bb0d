import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { agentTunnelServiceDefinition, type AgentFrame, type GatewayFrame } from '@warden/proto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectedAgent } from './agent-connection.js';
import type { AgentDisconnectInfo, TunnelServer } from './tunnel-server.js';
import type { TunnelClient } from './tunnel-client.js';
import { helloFrame, rawAgentCall, recordingLogger, startClient, startServer, waitFor } from './test-support.js';

const noSessions = async (): Promise<void> => {
  throw new Error('no sessions expected');
};

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
function track<T extends TunnelServer | TunnelClient>(x: T): T {
  cleanups.push(() => ('listen' in x ? x.close(100) : x.stop()));
  return x;
}

describe('agent connection', () => {
  it('authenticates with its key, is listed as connected, and the hooks fire', async () => {
    const connected: ConnectedAgent[] = [];
    const disconnected: Array<[ConnectedAgent, AgentDisconnectInfo]> = [];
    let seenKey = '';
    const server = track(
      await startServer({
        authenticateAgent: async (key) => {
          seenKey = key;
          return key === 'k-123' ? { agentId: 'id-7', agentName: 'edge-eu' } : null;
        },
        onAgentConnected: (a) => void connected.push(a),
        onAgentDisconnected: (a, info) => void disconnected.push([a, info]),
      }),
    );
    const client = await startClient(server.port, {
      agentKey: 'k-123',
      agentVersion: '1.2.3',
      connections: ['pg-prod', 'ssh-bastion'],
      onSession: noSessions,
    });
    expect(seenKey).toBe('k-123');
    expect(client.state).toBe('connected');
    expect(client.gateway).toMatchObject({ agentId: 'id-7', agentName: 'edge-eu' });
    expect(server.isConnected('edge-eu')).toBe(true);
    expect(server.listAgents()).toEqual([
      expect.objectContaining({
        agentId: 'id-7',
        agentName: 'edge-eu',
        agentVersion: '1.2.3',
        connections: ['pg-prod', 'ssh-bastion'],
      }),
    ]);
    expect(connected).toHaveLength(1);

    await client.stop();
    expect(client.state).toBe('stopped');
    await waitFor(() => !server.isConnected('edge-eu'), 5_000, 'agent to go offline');
    expect(disconnected).toHaveLength(1);
    expect(disconnected[0]?.[1].remainingConnections).toBe(0);
  });

  it('rejects a bad key with UNAUTHENTICATED and backs off instead of looping', async () => {
    const attempts: number[] = [];
    const server = track(
      await startServer({
        authenticateAgent: async () => {
          attempts.push(Date.now());
          return null;
        },
      }),
    );
    const logger = recordingLogger();
    const client = track(
      await startClient(
        server.port,
        // random fixed at 0.5 → delays 50, 100, 200, 400, 400, ... ms
        {
          agentKey: 'wrong',
          logger,
          backoff: { initialMs: 100, maxMs: 800, random: () => 0.5 },
          onSession: noSessions,
        },
        false,
      ),
    );
    const states = new Set<string>();
    client.on('state', (s: string) => states.add(s));
    await new Promise((r) => setTimeout(r, 2_000));

    expect(states.has('connected')).toBe(false);
    expect(server.listAgents()).toEqual([]);
    // A tight loop would make hundreds of attempts in 2 s; backoff allows about 7.
    expect(attempts.length).toBeGreaterThanOrEqual(4);
    expect(attempts.length).toBeLessThanOrEqual(10);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    expect(gaps.every((g) => g >= 40)).toBe(true);
    // Spacing grows: the later gaps are several times the first one.
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]! * 2);
    // One error line per attempt; the client logs the last refusal a moment after the server saw it.
    const errorLines = () => logger.lines.filter((l) => l.level === 'error');
    await expect.poll(() => errorLines().length - attempts.length, { timeout: 1000 }).toBe(0);
    const errors = errorLines();
    expect(errors[0]?.msg).toMatch(/rejected the agent key \(UNAUTHENTICATED: invalid agent key\).*retrying in/);
    // The key itself must never be logged.
    expect(JSON.stringify(logger.lines)).not.toContain('wrong');
  });

  it('reconnects after the gateway restarts on the same port', async () => {
    const server1 = await startServer();
    const port = server1.port;
    const logger = recordingLogger();
    const client = track(await startClient(port, { logger, onSession: noSessions }));
    const states: string[] = [];
    client.on('state', (s: string) => states.push(s));

    await server1.close(100);
    await waitFor(() => client.state === 'backoff' || client.state === 'connecting', 5_000, 'client to notice');
    // Stay down for a few retry rounds.
    await new Promise((r) => setTimeout(r, 500));
    expect(client.state).not.toBe('connected');

    const server2 = track(await startServer({ port }));
    await waitFor(() => client.state === 'connected', 10_000, 'client to reconnect');
    expect(server2.isConnected('default')).toBe(true);
    expect(states).toContain('backoff');
    expect(logger.lines.some((l) => l.level === 'warn' && /lost the gateway stream/.test(l.msg))).toBe(true);
  });

  it('drops an agent whose heartbeats stop', async () => {
    const server = track(await startServer({ heartbeatIntervalMs: 100 }));
    const raw = rawAgentCall(server.port, 'agent-key-good');
    cleanups.push(() => raw.close());
    raw.call.write(helloFrame('silent-1'));
    const [ack] = (await once(raw.call, 'data')) as [{ frame: { case: string } }];
    expect(ack.frame.case).toBe('helloAck');
    expect(server.isConnected('default')).toBe(true);
    const started = Date.now();
    // Never ping: the server must hang up after ~3 intervals.
    const status = await raw.status;
    expect(status.details).toBe('heartbeat timeout');
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(server.isConnected('default')).toBe(false);
  });

  it('pings keep an idle link alive well past three heartbeat intervals', async () => {
    const server = track(await startServer({ heartbeatIntervalMs: 100 }));
    const client = track(await startClient(server.port, { onSession: noSessions }));
    await new Promise((r) => setTimeout(r, 700));
    expect(client.state).toBe('connected');
    expect(server.listAgents()).toHaveLength(1);
  });

  it('a client gives up on a gateway that stops answering and reconnects', async () => {
    // A bare gRPC "gateway" that acks Hello, then never sends another frame.
    const server = new Server();
    let calls = 0;
    server.addService(agentTunnelServiceDefinition, {
      connect: (call: ServerDuplexStream<AgentFrame, GatewayFrame>) => {
        calls++;
        call.on('error', () => {});
        call.once('data', () =>
          call.write({
            $typeName: 'warden.tunnel.v1.GatewayFrame',
            frame: {
              case: 'helloAck',
              value: {
                $typeName: 'warden.tunnel.v1.HelloAck',
                agentId: 'x',
                agentName: 'x',
                gatewayId: `mute-${calls}`,
                heartbeatIntervalMs: 100,
                protocolVersion: 1,
              },
            },
          }),
        );
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    cleanups.push(() => void server.forceShutdown());
    const logger = recordingLogger();
    const client = track(await startClient(port, { logger, onSession: noSessions }));
    expect(client.gateway?.gatewayId).toBe('mute-1');
    await waitFor(() => calls >= 2, 3_000, 'a second connection');
    expect(logger.lines.some((l) => /missed its heartbeats/.test(l.msg))).toBe(true);
  });

  it('replaces the stream of the same agent instance, keeps replicas side by side', async () => {
    const disconnected: AgentDisconnectInfo[] = [];
    const server = track(await startServer({ onAgentDisconnected: (_a, info) => void disconnected.push(info) }));
    const a1 = rawAgentCall(server.port, 'agent-key-good');
    const a1again = rawAgentCall(server.port, 'agent-key-good');
    const replica = rawAgentCall(server.port, 'agent-key-good');
    cleanups.push(
      () => a1.close(),
      () => a1again.close(),
      () => replica.close(),
    );

    a1.call.write(helloFrame('instance-A'));
    await once(a1.call, 'data');
    replica.call.write(helloFrame('instance-B'));
    await once(replica.call, 'data');
    expect(
      server
        .listAgents()
        .map((a) => a.instanceId)
        .sort(),
    ).toEqual(['instance-A', 'instance-B']);

    // Same instance reconnects before its old stream was noticed dead: latest wins.
    a1again.call.write(helloFrame('instance-A'));
    await once(a1again.call, 'data');
    const status = await a1.status;
    expect(status.details).toMatch(/replaced/);
    await waitFor(() => disconnected.length === 1);
    expect(disconnected[0]?.remainingConnections).toBe(2);
    expect(server.listAgents()).toHaveLength(2);
  });

  it('refuses a stream that does not start with Hello', async () => {
    const server = track(await startServer());
    const raw = rawAgentCall(server.port, 'agent-key-good');
    cleanups.push(() => raw.close());
    raw.call.write({
      $typeName: 'warden.tunnel.v1.AgentFrame',
      frame: { case: 'ping', value: { $typeName: 'warden.tunnel.v1.Ping', sentAtMs: 1n } },
    });
    const status = await raw.status;
    expect(status.details).toBe('first frame must be Hello');
    expect(server.listAgents()).toEqual([]);
  });

  const hasOpenssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasOpenssl)('connects over TLS when the gateway serves TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-tls-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    // Self-signed certificate for 127.0.0.1, made fresh for the test.
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'));
    const key = readFileSync(join(dir, 'key.pem'));
    const server = track(
      await startServer({ credentials: ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }]) }),
    );

    const client = track(await startClient(server.port, { tls: { rootCerts: cert }, onSession: noSessions }));
    expect(client.state).toBe('connected');

    // A plaintext client cannot talk to the TLS gateway: it keeps backing off, never connects.
    const plain = track(await startClient(server.port, { onSession: noSessions }, false));
    await new Promise((r) => setTimeout(r, 300));
    expect(plain.state).not.toBe('connected');
    expect(server.listAgents()).toHaveLength(1);
  });
});
