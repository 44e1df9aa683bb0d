import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionHandler } from './gateway-link.js';
import { GOOD_KEY, readAll, startClient, startServer, waitFor, writeRandom } from './test-support.js';
import type { TunnelClient } from './tunnel-client.js';
import { TunnelError } from './tunnel-error.js';
import type { TunnelServer } from './tunnel-server.js';
import type { TunnelStream } from './tunnel-stream.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Gateway + in-process agent whose sessions are handled by `onSession`. */
async function setup(onSession: SessionHandler): Promise<{ server: TunnelServer; client: TunnelClient }> {
  const server = await startServer();
  const client = await startClient(server.port, { onSession });
  cleanups.push(
    () => server.close(100),
    () => client.stop(),
  );
  return { server, client };
}

const echo: SessionHandler = async (_open, stream) => {
  void pipeline(stream, stream).catch(() => {});
};

const config = (o: unknown): Uint8Array => Buffer.from(JSON.stringify(o));

describe('sessions', () => {
  it('opens a session and echoes data both ways', async () => {
    const opened: Array<{ type: string; config: unknown }> = [];
    const { server } = await setup(async (open, stream) => {
      opened.push({ type: open.type, config: JSON.parse(Buffer.from(open.config).toString()) });
      await echo(open, stream);
    });
    const stream = await server.openSession('default', {
      type: 'postgres',
      config: config({ host: 'db', port: 5432 }),
    });
    expect(opened).toEqual([{ type: 'postgres', config: { host: 'db', port: 5432 } }]);

    stream.write('hello ');
    stream.write(Buffer.from('tunnel'));
    stream.end();
    const got = await readAll(stream);
    expect(got.bytes).toBe(12);
    // Both directions ended gracefully: the session closes by itself, without an error.
    await waitFor(() => stream.destroyed, 2_000, 'session to close');
    expect(stream.errored).toBeNull();
  });

  it('multiplexes many concurrent sessions on one agent stream with data intact (20 MB each way each)', async () => {
    const SIZE = 20 * 1024 * 1024;
    const SESSIONS = 4;
    const agentSide = new Map<string, Promise<{ sent: string; received: string }>>();
    const { server } = await setup(async (open, stream) => {
      agentSide.set(
        open.sessionId,
        Promise.all([writeRandom(stream, SIZE), readAll(stream)]).then(([sent, got]) => ({
          sent,
          received: got.sha256,
        })),
      );
    });
    expect(server.listAgents()).toHaveLength(1);

    const results = await Promise.all(
      Array.from({ length: SESSIONS }, async () => {
        const s = await server.openSession('default', { type: 'hash', config: new Uint8Array() });
        const [sent, got] = await Promise.all([writeRandom(s, SIZE), readAll(s)]);
        const agent = await agentSide.get(s.sessionId)!;
        return { sent, got, agent };
      }),
    );
    for (const r of results) {
      expect(r.got.bytes).toBe(SIZE);
      expect(r.agent.received).toBe(r.sent); // gateway → agent
      expect(r.got.sha256).toBe(r.agent.sent); // agent → gateway
    }
  });

  it('rejects fast with AGENT_OFFLINE when the agent is not connected', async () => {
    const { server } = await setup(echo);
    const started = Date.now();
    const err = await server.openSession('nobody', { type: 'postgres', config: new Uint8Array() }).catch((e) => e);
    expect(err).toBeInstanceOf(TunnelError);
    expect(err.code).toBe('AGENT_OFFLINE');
    expect(Date.now() - started).toBeLessThan(100);
  });

  it("rejects with OPEN_FAILED and the agent's message when its handler throws", async () => {
    const { server } = await setup(async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
    });
    const err = await server.openSession('default', { type: 'postgres', config: new Uint8Array() }).catch((e) => e);
    expect(err).toMatchObject({ code: 'OPEN_FAILED', message: 'connect ECONNREFUSED 10.0.0.5:5432' });
    expect(err.remoteCode).toBe('ECONNREFUSED');
  });

  it('times out an open the agent never answers, and tells the agent', async () => {
    let agentStream: TunnelStream | undefined;
    const { server } = await setup(async (_open, stream) => {
      agentStream = stream;
      await new Promise(() => {}); // target never becomes ready
    });
    const started = Date.now();
    const err = await server
      .openSession('default', { type: 'postgres', config: new Uint8Array(), timeoutMs: 200 })
      .catch((e) => e);
    expect(err).toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(1_000);
    await waitFor(() => agentStream?.destroyed === true, 2_000, 'agent-side session to be dropped');
  });

  it('half-close: end() on one side ends the other side’s readable; the other side can still answer', async () => {
    const { server } = await setup(async (_open, stream) => {
      void readAll(stream).then((got) => {
        stream.end(`got ${got.bytes} bytes`);
      });
    });
    const s = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    s.end(Buffer.alloc(1000));
    const reply = await readAll(s);
    expect(reply.bytes).toBe('got 1000 bytes'.length);
    await waitFor(() => s.destroyed, 2_000, 'session to close');
    expect(s.errored).toBeNull();
  });

  it('destroy(err) on one side errors the other side with the reason', async () => {
    let agentStream: TunnelStream | undefined;
    const { server } = await setup(async (_open, stream) => {
      agentStream = stream;
    });
    const s = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    s.destroy(new Error('client went away'));
    await waitFor(() => agentStream?.destroyed === true);
    expect(agentStream?.errored).toMatchObject({ code: 'SESSION_ABORTED', message: 'client went away' });
  });

  it('destroy() without an error closes the other side without an error', async () => {
    const { server } = await setup(async (_open, stream) => {
      setTimeout(() => stream.destroy(), 20);
    });
    const s = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    s.on('error', () => {});
    await once(s, 'close');
    expect(s.errored).toBeNull();
  });

  it('stopping the agent mid-session errors the gateway-side stream with AGENT_DISCONNECTED', async () => {
    let agentStream: TunnelStream | undefined;
    const { server, client } = await setup(async (_open, stream) => {
      agentStream = stream;
    });
    const s = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    const errored = once(s, 'error');
    await client.stop();
    const [err] = await errored;
    expect(err).toMatchObject({ code: 'AGENT_DISCONNECTED' });
    expect(agentStream?.errored).toMatchObject({ code: 'SHUTDOWN' });
  });

  it('killing the agent process mid-session errors the gateway-side stream', async () => {
    const server = await startServer();
    cleanups.push(() => server.close(100));
    const fixture = fileURLToPath(new URL('./test-fixtures/echo-agent.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, `127.0.0.1:${server.port}`, GOOD_KEY], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => void child.kill('SIGKILL'));
    await waitFor(() => server.isConnected('default'), 20_000, 'agent process to connect');

    const s = await server.openSession('default', { type: 'echo', config: new Uint8Array() });
    s.write('ping');
    const [echoed] = (await once(s, 'data')) as [Buffer];
    expect(echoed.toString()).toBe('ping');

    const errored = once(s, 'error');
    child.kill('SIGKILL');
    const [err] = await errored;
    expect(err).toMatchObject({ code: 'AGENT_DISCONNECTED' });
    await waitFor(() => !server.isConnected('default'), 5_000, 'agent to be marked offline');
  });

  it('closes the gateway-side sessions of an agent disconnected by the gateway', async () => {
    const { server } = await setup(echo);
    const s = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    const errored = once(s, 'error');
    server.disconnectAgent('default', 'agent key revoked');
    const [err] = await errored;
    expect(err).toMatchObject({ code: 'AGENT_DISCONNECTED' });
    expect((err as Error).message).toMatch(/agent key revoked/);
  });
});
