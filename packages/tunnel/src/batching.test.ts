import { once } from 'node:events';
import { Writable } from 'node:stream';
import type { AgentFrame, GatewayFrame, SessionFrame } from '@warden/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameWriter, MAX_BATCH_BYTES, type WrappableBody } from './frame-writer.js';
import { helloFrame, rawAgentCall, startServer, waitFor } from './test-support.js';
import type { TunnelServer } from './tunnel-server.js';
import type { TunnelStream } from './tunnel-stream.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Frame = { $typeName: 'warden.tunnel.v1.GatewayFrame'; frame: WrappableBody | { case: 'ping'; value: unknown } };
const wrap = (body: WrappableBody): Frame => ({ $typeName: 'warden.tunnel.v1.GatewayFrame', frame: body });
const readText = async (stream: TunnelStream): Promise<string> => {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await once(stream, 'end');
  return text;
};
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An object-mode sink standing in for the gRPC call; `hold` keeps writes from completing. */
class Sink extends Writable {
  readonly frames: Frame[] = [];
  private held: Array<() => void> = [];
  constructor(private hold = false) {
    super({ objectMode: true, highWaterMark: 2 });
  }
  override _write(frame: Frame, _enc: BufferEncoding, cb: () => void): void {
    this.frames.push(frame);
    if (this.hold) this.held.push(cb);
    else cb();
  }
  release(): void {
    this.hold = false;
    for (const cb of this.held.splice(0)) cb();
  }
}

/** Session frames of a written message, flattened: `case:sessionId`. */
const describeFrames = (f: Frame): string[] =>
  f.frame.case === 'batch'
    ? f.frame.value.frames.map((sf: SessionFrame) => `${sf.frame.case}:${sf.frame.value?.sessionId}`)
    : [`${f.frame.case}:${(f.frame.value as { sessionId?: string }).sessionId ?? ''}`];

describe('FrameWriter batching', () => {
  it('without batching (a version-1 peer) writes one message per frame at once', () => {
    const sink = new Sink();
    const w = new FrameWriter(sink, wrap);
    w.sendData('a', Buffer.from('x'));
    w.sendCredit('b', 10);
    w.sendClose('c', { abort: false });
    expect(sink.frames.map((f) => f.frame.case)).toEqual(['data', 'credit', 'close']);
  });

  it('coalesces the frames of one event-loop turn, across sessions, into one Batch, in order', async () => {
    const sink = new Sink();
    const w = new FrameWriter(sink, wrap);
    w.enableBatching();
    expect(w.sendData('a', Buffer.from('x'))).toBe(true);
    w.sendCredit('b', 10);
    w.sendData('c', Buffer.from('y'));
    w.sendClose('a', { abort: true, reason: 'r', code: 'C' });
    expect(sink.frames).toHaveLength(0);
    await nextTurn();
    expect(sink.frames).toHaveLength(1);
    expect(sink.frames[0]!.frame.case).toBe('batch');
    expect(describeFrames(sink.frames[0]!)).toEqual(['data:a', 'credit:b', 'data:c', 'close:a']);

    // A lone frame goes as itself.
    w.sendData('z', Buffer.from('q'));
    await nextTurn();
    expect(sink.frames).toHaveLength(2);
    expect(describeFrames(sink.frames[1]!)).toEqual(['data:z']);
  });

  it('a control frame first flushes the queued session frames, so order is kept', () => {
    const sink = new Sink();
    const w = new FrameWriter(sink, wrap);
    w.enableBatching();
    w.sendData('a', Buffer.from('x'));
    w.sendData('b', Buffer.from('y'));
    w.send({ $typeName: 'warden.tunnel.v1.GatewayFrame', frame: { case: 'ping', value: {} } });
    expect(sink.frames.map((f) => f.frame.case)).toEqual(['batch', 'ping']);
  });

  it(`flushes at once when a batch reaches ${MAX_BATCH_BYTES} payload bytes`, () => {
    const sink = new Sink();
    const w = new FrameWriter(sink, wrap);
    w.enableBatching();
    w.sendData('a', Buffer.alloc(MAX_BATCH_BYTES / 2));
    expect(sink.frames).toHaveLength(0);
    w.sendData('b', Buffer.alloc(MAX_BATCH_BYTES / 2));
    expect(sink.frames).toHaveLength(1);
    expect(describeFrames(sink.frames[0]!)).toEqual(['data:a', 'data:b']);
  });

  it("reports the call's backpressure and resolves drained() once it clears", async () => {
    const sink = new Sink(true);
    const w = new FrameWriter(sink, wrap);
    w.enableBatching();
    // highWaterMark 2: the third message written leaves the sink needing a drain.
    for (let i = 0; i < 3; i++) {
      w.sendData(`s${i}`, Buffer.from('x'));
      w.flush();
    }
    expect(w.sendData('s9', Buffer.from('x'))).toBe(false);
    let drained = false;
    const waiting = w.drained().then(() => (drained = true));
    await nextTurn();
    expect(drained).toBe(false);
    sink.release();
    await waiting;
    expect(w.sendData('s10', Buffer.from('x'))).toBe(true);
  });
});

describe('batching on the wire', () => {
  /** A bare agent speaking `version`; answers every SessionOpen and records what the gateway sends. */
  async function rawAgent(server: TunnelServer, version: number) {
    const raw = rawAgentCall(server.port, 'agent-key-good');
    cleanups.push(() => raw.close());
    const hello = helloFrame(`raw-v${version}`);
    if (hello.frame.case === 'hello') hello.frame.value.protocolVersion = version;
    const received: GatewayFrame[] = [];
    raw.call.on('data', (frame: GatewayFrame) => {
      received.push(frame);
      if (frame.frame.case === 'sessionOpen') {
        raw.call.write({
          $typeName: 'warden.tunnel.v1.AgentFrame',
          frame: {
            case: 'sessionOpened',
            value: {
              $typeName: 'warden.tunnel.v1.SessionOpened',
              sessionId: frame.frame.value.sessionId,
              initialCredit: 1 << 20,
            },
          },
        });
      }
    });
    raw.call.write(hello);
    await waitFor(() => server.isConnected('default'), 5_000, 'raw agent to connect');
    return { raw, received };
  }

  async function openSessions(server: TunnelServer, n: number): Promise<TunnelStream[]> {
    return Promise.all(
      Array.from({ length: n }, (_, i) =>
        server.openSession('default', { type: 'test', config: new Uint8Array(), sessionId: `s${i}` }),
      ),
    );
  }

  it('never sends a Batch to a version-1 agent', async () => {
    const server = await startServer();
    cleanups.push(() => server.close(100));
    const { received } = await rawAgent(server, 1);
    const streams = await openSessions(server, 3);
    for (const s of streams) s.write('hello');
    await waitFor(() => received.filter((f) => f.frame.case === 'data').length === 3, 5_000, 'data frames');
    expect(received.some((f) => f.frame.case === 'batch')).toBe(false);
  });

  it('sends one Batch for writes on several sessions in one turn, and unpacks the agent’s Batches', async () => {
    const server = await startServer();
    cleanups.push(() => server.close(100));
    const { raw, received } = await rawAgent(server, 2);
    const streams = await openSessions(server, 3);
    for (const s of streams) s.write(`to ${s.sessionId}`);
    await waitFor(() => received.some((f) => f.frame.case === 'batch'), 5_000, 'a batch');
    const batch = received.find((f) => f.frame.case === 'batch');
    if (batch?.frame.case !== 'batch') throw new Error('expected a batch');
    expect(batch.frame.value.frames.map((f) => [f.frame.case, f.frame.value?.sessionId])).toEqual([
      ['data', 's0'],
      ['data', 's1'],
      ['data', 's2'],
    ]);

    // Agent → gateway: data for two sessions and a half-close, all in one message.
    const sessionFrame = (frame: SessionFrame['frame']): SessionFrame => ({
      $typeName: 'warden.tunnel.v1.SessionFrame',
      frame,
    });
    const data = (sessionId: string, text: string) =>
      sessionFrame({
        case: 'data',
        value: { $typeName: 'warden.tunnel.v1.Data', sessionId, data: Buffer.from(text) },
      });
    const close = (sessionId: string) =>
      sessionFrame({
        case: 'close',
        value: { $typeName: 'warden.tunnel.v1.Close', sessionId, abort: false, reason: '', code: '' },
      });
    const frame: AgentFrame = {
      $typeName: 'warden.tunnel.v1.AgentFrame',
      frame: {
        case: 'batch',
        value: {
          $typeName: 'warden.tunnel.v1.Batch',
          frames: [data('s0', 'one '), data('s1', 'other'), data('s0', 'two'), close('s0'), close('s1')],
        },
      },
    };
    const [s0, s1] = streams as [TunnelStream, TunnelStream];
    const reads = Promise.all([readText(s0), readText(s1)]);
    raw.call.write(frame);
    expect(await reads).toEqual(['one two', 'other']);
  });
});
