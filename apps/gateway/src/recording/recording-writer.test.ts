import { Writable } from 'node:stream';
import { createLogger } from '@warden/runtime';
import { describe, expect, it } from 'vitest';
import { RecordingWriter } from './recording-writer.js';

// Unit test of the writer alone: `execute` stands in for the control-plane database, which can be
// made to fail (down) and recover.
const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });

function event(seq: number, size = 100) {
  const json = JSON.stringify({ seq, pad: 'x'.repeat(size) });
  return { sessionId: '00000000-0000-4000-8000-000000000001', seq, t: new Date().toISOString(), kind: 'query', json };
}

function fakeDatabase() {
  const written: number[] = [];
  let down = false;
  return {
    written,
    setDown: (value: boolean) => (down = value),
    execute: async (_sql: string, params: unknown[]) => {
      if (down) throw new Error('connection refused');
      const rows = JSON.parse(params[0] as string) as { e: { seq: number }[] }[];
      for (const row of rows) for (const e of row.e) written.push(e.seq);
    },
  };
}

describe('RecordingWriter backlog', () => {
  it('while the database is down the backlog fills up to its bound, then reports overloaded until written', async () => {
    const db = fakeDatabase();
    const writer = new RecordingWriter(db.execute, quiet, {
      flushIntervalMs: 5,
      maxBatch: 50,
      maxBacklogBytes: 20_000,
    });
    db.setDown(true);
    let seq = 0;
    while (!writer.overloaded) {
      writer.push(event(++seq));
      expect(seq).toBeLessThan(1000);
    }
    // ~130 bytes an event: overloaded once past 20 kB, not before.
    expect(seq).toBeGreaterThan(100);
    let relieved = false;
    const waiting = writer.whenRelieved().then(() => (relieved = true));
    await new Promise((r) => setTimeout(r, 150));
    expect(relieved).toBe(false);
    expect(db.written).toEqual([]);

    db.setDown(false);
    await waiting;
    expect(writer.overloaded).toBe(false);
    await writer.flush();
    // Nothing was dropped, and the order is the order pushed.
    expect(db.written).toEqual(Array.from({ length: seq }, (_, i) => i + 1));
    await writer.close();
  });

  it('is not overloaded, and whenRelieved resolves at once, under the bound', async () => {
    const db = fakeDatabase();
    const writer = new RecordingWriter(db.execute, quiet, { flushIntervalMs: 5, maxBacklogBytes: 1_000_000 });
    for (let i = 1; i <= 100; i++) writer.push(event(i));
    expect(writer.overloaded).toBe(false);
    await writer.whenRelieved();
    await writer.flush();
    expect(db.written).toHaveLength(100);
    await writer.close();
  });
});
