import { afterEach, describe, expect, it } from 'vitest';
import type { SessionHandler } from './gateway-link.js';
import { readAll, startClient, startServer, waitFor } from './test-support.js';
import type { TunnelStream } from './tunnel-stream.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(onSession: SessionHandler) {
  const server = await startServer();
  const client = await startClient(server.port, { onSession });
  cleanups.push(
    () => server.close(100),
    () => client.stop(),
  );
  return server;
}

/** Collects a stream's reports and data in arrival order. */
function observe(stream: TunnelStream): string[] {
  const events: string[] = [];
  stream.onReport((kind, payload) => events.push(`report ${kind} ${payload.toString()}`));
  stream.on('data', (chunk: Buffer) => events.push(`data ${chunk.toString()}`));
  stream.on('end', () => events.push('end'));
  return events;
}

describe('session reports', () => {
  it('a report sent while the session opens is held and delivered first, before any data', async () => {
    const server = await setup(async (_open, stream) => {
      stream.report('facts', Buffer.from('{"role":1}'));
      stream.end('preamble');
    });
    const stream = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    const events = observe(stream);
    await waitFor(() => events.includes('end'), 2_000, 'the session to end');
    expect(events).toEqual(['report facts {"role":1}', 'data preamble', 'end']);
  });

  it('reports keep their order with data, and one sent before end() arrives before the end', async () => {
    const server = await setup(async (_open, stream) => {
      setImmediate(() => {
        stream.write('a');
        stream.report('masked', Buffer.from('1'));
        // Same event-loop turn: all four frames share one batch.
        stream.write('b');
        stream.report('masked', Buffer.from('2'));
        stream.end();
      });
    });
    const stream = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    const events = observe(stream);
    await waitFor(() => events.includes('end'), 2_000, 'the session to end');
    expect(events).toEqual(['data a', 'report masked 1', 'data b', 'report masked 2', 'end']);
  });

  it('reports do not wait for Data credit: they arrive while the reader reads nothing', async () => {
    let agent: TunnelStream | undefined;
    const server = await setup(async (_open, stream) => {
      agent = stream;
    });
    const gateway = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    const reports: string[] = [];
    gateway.onReport((kind) => reports.push(kind));
    // Nobody reads the gateway side: a megabyte uses up the credit and most of it waits at the agent.
    agent!.write(Buffer.alloc(1024 * 1024));
    await waitFor(() => agent!.availableSendCredit === 0, 2_000, 'the credit to run out');
    agent!.report('masked', Buffer.from('{"email":1}'));
    await waitFor(() => reports.length === 1, 2_000, 'the report');
    expect(agent!.writableLength).toBeGreaterThan(0);
    // Reading resumes the data, all of it.
    agent!.end();
    expect((await readAll(gateway)).bytes).toBe(1024 * 1024);
  });

  it('a report after the session is destroyed is dropped, not sent', async () => {
    let agent: TunnelStream | undefined;
    const server = await setup(async (_open, stream) => {
      agent = stream;
    });
    const gateway = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    const reports: string[] = [];
    gateway.onReport((kind) => reports.push(kind));
    agent!.destroy();
    await waitFor(() => gateway.destroyed, 2_000, 'the gateway side to close');
    expect(() => agent!.report('masked', Buffer.from('{}'))).not.toThrow();
    expect(reports).toEqual([]);
  });

  it('a report handler that throws aborts its session only', async () => {
    const server = await setup(async (_open, stream) => {
      setImmediate(() => stream.report('facts', Buffer.from('x')));
    });
    const stream = await server.openSession('default', { type: 'x', config: new Uint8Array() });
    stream.onReport(() => {
      throw new Error('unreadable facts');
    });
    await waitFor(() => stream.destroyed, 2_000, 'the session to be aborted');
    expect(stream.errored?.message).toBe('unreadable facts');
  });
});
