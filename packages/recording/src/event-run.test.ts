import { describe, expect, it } from 'vitest';
import { canonicalJson, eventHash, GENESIS_HASH, HashChain } from './chain.js';
import { EventRun } from './event-run.js';
import type { RecordedEvent } from './events.js';

const SESSION = '00000000-0000-4000-8000-000000000001';

/** A run's bytes read back as a reader does: prevHash restored from the event before. */
function readBack(bytes: Buffer, prevHash: string): RecordedEvent[] {
  const events = JSON.parse(bytes.toString('utf8')) as RecordedEvent[];
  events.forEach((e, i) => (e.prevHash = i ? events[i - 1]!.hash : prevHash));
  return events;
}

describe('HashChain.appendTo an EventRun', () => {
  it('writes each event in its stored form, hashed over exactly what eventHash() recomputes', () => {
    const chain = new HashChain(SESSION);
    const run = new EventRun();
    const texts = ['SELECT 1', "SELECT 'é' AS \"naïve\", '😀'", 'x'.repeat(20_000), 'line\nbreak "quoted" \\ \u0001'];
    texts.forEach((text, i) => {
      const seq = chain.appendTo(run, `2026-12-03T18:00:00.00${i}Z`, 'client', 'query', canonicalJson({ text }));
      expect(seq).toBe(i + 1);
    });
    expect(run.size).toBe(4);
    const taken = run.take()!;
    expect(taken).toMatchObject({
      firstSeq: 1,
      lastSeq: 4,
      firstAt: '2026-12-03T18:00:00.000Z',
      lastAt: '2026-12-03T18:00:00.003Z',
    });
    const events = readBack(taken.bytes, GENESIS_HASH);
    expect(events.map((e) => (e.payload as { text: string }).text)).toEqual(texts);
    for (const e of events) {
      expect(eventHash(e.prevHash, e)).toBe(e.hash);
      expect(e).toMatchObject({ sessionId: SESSION, direction: 'client', kind: 'query' });
    }
    expect(chain.lastHash).toBe(events.at(-1)!.hash);
    // The stored form has every field but prevHash.
    const stored = JSON.parse(taken.bytes.toString('utf8')) as Record<string, unknown>[];
    expect(Object.keys(stored[0]!).sort()).toEqual(['direction', 'hash', 'kind', 'payload', 'seq', 'sessionId', 't']);
  });

  it('continues the chain across takes, and gives nothing when nothing was appended', () => {
    const chain = new HashChain(SESSION);
    const run = new EventRun();
    expect(run.take()).toBeUndefined();
    chain.appendTo(run, '2026-12-03T18:00:00.000Z', 'client', 'query', canonicalJson({ text: 'a' }));
    const first = run.take()!;
    expect(run.take()).toBeUndefined();
    expect(run.size).toBe(0);
    chain.appendTo(run, '2026-12-03T18:00:00.001Z', 'server', 'result', canonicalJson({ tag: 'SELECT 1' }));
    chain.appendTo(run, '2026-12-03T18:00:00.002Z', 'client', 'query', canonicalJson({ text: 'b' }));
    const second = run.take()!;
    expect([second.firstSeq, second.lastSeq]).toEqual([2, 3]);
    const [a] = readBack(first.bytes, GENESIS_HASH);
    const [b, c] = readBack(second.bytes, a!.hash);
    expect(eventHash(a!.hash, b!)).toBe(b!.hash);
    expect(eventHash(b!.hash, c!)).toBe(c!.hash);
  });

  it('hands over buffers that are its own, never a slice of a shared pool (they are transferred)', () => {
    const chain = new HashChain(SESSION);
    const run = new EventRun();
    for (const count of [1, 200]) {
      for (let i = 0; i < count; i++) {
        chain.appendTo(run, '2026-12-03T18:00:00.000Z', 'client', 'query', canonicalJson({ text: `q${i}` }));
      }
      const { bytes } = run.take()!;
      expect(bytes.byteOffset).toBe(0);
      expect(bytes.buffer.byteLength).toBeLessThan(bytes.length * 4 + 1);
      expect(JSON.parse(bytes.toString('utf8'))).toHaveLength(count);
    }
  });

  it('writes the same event appendEncoded() returns as a string', () => {
    const viaRun = new HashChain(SESSION);
    const viaString = new HashChain(SESSION);
    const run = new EventRun();
    const payload = canonicalJson({ text: 'SELECT ¿qué?' });
    viaRun.appendTo(run, '2026-12-03T18:00:00.000Z', 'client', 'query', payload);
    const encoded = viaString.appendEncoded('2026-12-03T18:00:00.000Z', 'client', 'query', payload);
    expect(`[${encoded.json}]`).toBe(run.take()!.bytes.toString('utf8'));
    expect(viaRun.lastHash).toBe(viaString.lastHash);
  });
});
