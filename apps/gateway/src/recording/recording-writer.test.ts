import { Writable } from 'node:stream';
import { createLogger } from '@warden/runtime';
import { describe, expect, it } from 'vitest';
import { RecordingWriter } from './recording-writer.js';

// Unit test of the writer alone: `execute` stands in for the control-plane database, which can be
// made to fail (down) and recover.
const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });

const SESSION_A = '00000000-0000-4000-8000-000000000001';
const SESSION_B = '00000000-0000-4000-8000-000000000002';

function event(seq: number, size = 100, sessionId = SESSION_A) {
  const json = JSON.stringify({ seq, pad: 'x'.repeat(size) });
  return { sessionId, seq, t: new Date().toISOString(), kind: 'query', json };
}

function fakeDatabase() {
  const written: number[] = [];
  const bySession: Record<string, number[]> = {};
  let down = false;
  const statements: number[] = [];
  /** The statement name each INSERT ran under (undefined: unnamed). */
  const names: (string | undefined)[] = [];
  return {
    written,
    bySession,
    /** Chunk rows per INSERT statement, in the order run. */
    statements,
    names,
    setDown: (value: boolean) => (down = value),
    execute: async (_sql: string, params: unknown[], name?: string) => {
      if (down) throw new Error('connection refused');
      names.push(name);
      // Seven parameters per chunk row: session, first and last seq, first and last time, events, text.
      const rows: { s: string; e: { seq: number; poison?: boolean }[] }[] = [];
      for (let i = 0; i < params.length; i += 7) {
        rows.push({ s: params[i] as string, e: JSON.parse(params[i + 5] as string) as { seq: number }[] });
      }
      // Like Postgres refusing a value jsonb cannot hold: the whole statement fails with 22P05.
      if (rows.some((row) => row.e.some((e) => e.poison))) {
        throw Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
      }
      statements.push(rows.length);
      for (const row of rows)
        for (const e of row.e) {
          written.push(e.seq);
          (bySession[row.s] ??= []).push(e.seq);
        }
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

  it('a batch the database refuses for its content costs only its own session, not every session behind it', async () => {
    const db = fakeDatabase();
    const writer = new RecordingWriter(db.execute, quiet, { flushIntervalMs: 1000 });
    for (let seq = 1; seq <= 3; seq++) writer.push(event(seq, 10, SESSION_A));
    writer.push({ ...event(1, 10, SESSION_B), json: JSON.stringify({ seq: 1, poison: true }) });
    writer.push(event(2, 10, SESSION_B));
    await writer.flush();
    expect(db.bySession[SESSION_A]).toEqual([1, 2, 3]);
    expect(db.bySession[SESSION_B]).toBeUndefined();
    // The writer goes on: later events of both sessions are written.
    writer.push(event(4, 10, SESSION_A));
    writer.push(event(3, 10, SESSION_B));
    await writer.flush();
    expect(db.bySession[SESSION_A]).toEqual([1, 2, 3, 4]);
    expect(db.bySession[SESSION_B]).toEqual([3]);
    expect(writer.overloaded).toBe(false);
    await writer.close();
  });

  it('drops a session’s events once another gateway stored events at its next seq, so they never land after that seal', async () => {
    const db = fakeDatabase();
    // Another gateway ended SESSION_A and stored its session.end at seq 3 (unique sessionId, firstSeq).
    const taken = new Set([3]);
    const execute: typeof db.execute = async (sql, params, name) => {
      for (let i = 0; i < params.length; i += 7) {
        if (params[i] === SESSION_A && taken.has(params[i + 1] as number)) {
          throw Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' });
        }
      }
      return db.execute(sql, params, name);
    };
    const writer = new RecordingWriter(execute, quiet, { flushIntervalMs: 1000 });
    writer.push(event(1, 10, SESSION_A));
    writer.push(event(2, 10, SESSION_A));
    await writer.flush();
    // Then this gateway comes back with more of the session: seq 3 collides, and so it stops there.
    writer.push(event(3, 10, SESSION_A));
    writer.push(event(1, 10, SESSION_B));
    await writer.flush();
    writer.push(event(4, 10, SESSION_A));
    writer.push(event(2, 10, SESSION_B));
    await writer.flush();
    expect(db.bySession[SESSION_A]).toEqual([1, 2]);
    expect(db.bySession[SESSION_B]).toEqual([1, 2]);
    expect(writer.overloaded).toBe(false);
    await writer.close();
  });

  it('keeps writing a session whose insert failed for another reason than a taken seq', async () => {
    const db = fakeDatabase();
    let fail = true;
    const execute: typeof db.execute = async (sql, params, name) => {
      if (fail) {
        fail = false;
        throw Object.assign(new Error('value too long'), { code: '22001' });
      }
      return db.execute(sql, params, name);
    };
    const writer = new RecordingWriter(execute, quiet, { flushIntervalMs: 1000 });
    writer.push(event(1, 10, SESSION_A));
    await writer.flush();
    writer.push(event(2, 10, SESSION_A));
    await writer.flush();
    expect(db.bySession[SESSION_A]).toEqual([2]);
    await writer.close();
  });

  it('writes a flush with more sessions than one statement may carry as several statements, none lost', async () => {
    const db = fakeDatabase();
    const writer = new RecordingWriter(db.execute, quiet, { flushIntervalMs: 1000 });
    const sessions = Array.from({ length: 2500 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    for (const sessionId of sessions) writer.push(event(1, 10, sessionId));
    await writer.flush();
    expect(db.statements).toEqual([1000, 1000, 500]);
    expect(Object.keys(db.bySession)).toHaveLength(2500);
    await writer.close();
  });

  it('runs inserts of up to 64 rows as prepared statements named by their row count, larger ones unnamed', async () => {
    const db = fakeDatabase();
    const writer = new RecordingWriter(db.execute, quiet, { flushIntervalMs: 1000 });
    const session = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    for (const count of [3, 64, 3, 65]) {
      for (let i = 0; i < count; i++) writer.push(event(1, 10, session(i)));
      await writer.flush();
    }
    expect(db.statements).toEqual([3, 64, 3, 65]);
    expect(db.names).toEqual([
      'warden_recording_chunks_3',
      'warden_recording_chunks_64',
      'warden_recording_chunks_3',
      undefined,
    ]);
    await writer.close();
  });
});
