import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { readAll, startClient, startServer, waitFor } from './test-support.js';
import { DEFAULT_WINDOW_BYTES, type TunnelStream } from './tunnel-stream.js';

const WINDOW = DEFAULT_WINDOW_BYTES;
const CHUNK = 16 * 1024;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Gateway + agent; the agent's session streams are handed to the test untouched (nobody reads them). */
async function setup(): Promise<{ open: () => Promise<{ gateway: TunnelStream; agent: TunnelStream }> }> {
  const agentStreams = new Map<string, TunnelStream>();
  const server = await startServer();
  const client = await startClient(server.port, {
    onSession: async (open, stream) => {
      agentStreams.set(open.sessionId, stream);
    },
  });
  cleanups.push(
    () => server.close(100),
    () => client.stop(),
  );
  return {
    open: async () => {
      const gateway = await server.openSession('default', { type: 'x', config: new Uint8Array() });
      return { gateway, agent: agentStreams.get(gateway.sessionId)! };
    },
  };
}

/**
 * Writes CHUNK-sized pieces until write() has returned false and 'drain' then stays
 * away for `stallMs`. Returns the bytes handed to write() by then.
 */
async function writeUntilStalled(
  stream: TunnelStream,
  hash: ReturnType<typeof createHash>,
  stallMs = 300,
): Promise<number> {
  let written = 0;
  for (;;) {
    const chunk = Buffer.alloc(CHUNK, written / CHUNK);
    hash.update(chunk);
    written += CHUNK;
    if (stream.write(chunk)) continue;
    const drained = await Promise.race([
      once(stream, 'drain').then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), stallMs)),
    ]);
    if (!drained) return written;
    if (written > 50 * WINDOW) throw new Error('writer was never stopped');
  }
}

describe('flow control', () => {
  for (const direction of ['gateway → agent', 'agent → gateway'] as const) {
    it(`${direction}: a reader that does not read stops the writer after about one window, then reading resumes flow`, async () => {
      const { open } = await setup();
      const pair = await open();
      const [writer, reader] =
        direction === 'gateway → agent' ? [pair.gateway, pair.agent] : [pair.agent, pair.gateway];

      const sent = createHash('sha256');
      const accepted = await writeUntilStalled(writer, sent);
      // Accepted = what the reader buffers (≤ window) + what the writer's Writable holds
      // (its high-water mark) + the chunk waiting for credit. Far from unbounded.
      expect(accepted).toBeGreaterThanOrEqual(WINDOW);
      expect(accepted).toBeLessThan(2 * WINDOW + CHUNK);
      // Credit is returned only as the consumer reads, so the reader holds at most one window.
      expect(reader.readableLength).toBeLessThanOrEqual(WINDOW);
      expect(writer.availableSendCredit).toBe(0);

      // Nothing moves while the reader stays idle.
      await new Promise((r) => setTimeout(r, 200));
      expect(reader.readableLength).toBeLessThanOrEqual(WINDOW);

      // The reader starts consuming: the writer's pending writes drain and more go through.
      const received = readAll(reader);
      const more = 4 * WINDOW;
      for (let i = 0; i < more; i += CHUNK) {
        const chunk = Buffer.alloc(CHUNK, 0x5a);
        sent.update(chunk);
        if (!writer.write(chunk)) await once(writer, 'drain');
      }
      writer.end();
      const got = await received;
      expect(got.bytes).toBe(accepted + more);
      expect(got.sha256).toBe(sent.digest('hex'));
    });
  }

  it('one stalled session does not hold up another on the same agent stream', async () => {
    const { open } = await setup();
    const stalled = await open();
    await writeUntilStalled(stalled.gateway, createHash('sha256'), 200);

    const other = await open();
    const received = readAll(other.agent);
    const payload = Buffer.alloc(3 * 1024 * 1024, 7);
    other.gateway.end(payload);
    const got = await received;
    expect(got.bytes).toBe(payload.length);
    expect(stalled.agent.readableLength).toBeLessThanOrEqual(WINDOW);
  });

  it('a slow reader paces the writer instead of letting buffers grow', async () => {
    const { open } = await setup();
    const { gateway, agent } = await open();
    let maxBuffered = 0;
    let read = 0;
    // Consume 64 KiB every 5 ms (~13 MB/s) while the writer pushes 8 MiB as fast as it may.
    const reader = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, agent.readableLength);
      let chunk: Buffer | null;
      let budget = 64 * 1024;
      while (budget > 0 && (chunk = agent.read()) !== null) {
        read += chunk.length;
        budget -= chunk.length;
      }
    }, 5);
    cleanups.push(() => clearInterval(reader));
    const total = 8 * 1024 * 1024;
    for (let i = 0; i < total; i += CHUNK) {
      if (!gateway.write(Buffer.alloc(CHUNK))) await once(gateway, 'drain');
      expect(i + CHUNK - read).toBeLessThan(2 * WINDOW + CHUNK);
    }
    gateway.end();
    await waitFor(() => read === total, 20_000, 'all data read');
    expect(maxBuffered).toBeLessThanOrEqual(WINDOW);
  });
});
