// The RecordingWriter against a real control-plane database: its inserts run as prepared
// statements named by row count (RawExecute), reused on the pooled connections past the point
// where Postgres switches them to a generic plan. Every chunk must land whole and in order.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '@warden/db';
import { createLogger } from '@warden/runtime';
import { RecordingWriter } from '../../apps/gateway/src/recording/recording-writer.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });

let database: TestDatabase;
let db: Database;
const sessions: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase({ databaseUrl: database.url, dataDir: '.data' });
  const identity = await db.prisma.identity.create({ data: { name: 'ada', role: 'admin' } });
  const agent = await db.prisma.agent.create({ data: { name: 'edge', keyPrefix: 'wda_x', keyHash: 'h' } });
  const connection = await db.prisma.connection.create({
    data: { name: 'pg', type: 'postgres', agentId: agent.id, config: {} },
  });
  for (let i = 0; i < 3; i++) {
    const session = await db.prisma.session.create({
      data: { id: randomUUID(), identityId: identity.id, connectionId: connection.id, protocol: 'postgres' },
    });
    sessions.push(session.id);
  }
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

describe('RecordingWriter on Postgres', () => {
  it('stores every chunk of many flushes that reuse the same prepared statements', async () => {
    const writer = new RecordingWriter(db.execute, quiet, { flushIntervalMs: 1000 });
    const seqs = new Map<string, number>(sessions.map((s) => [s, 0]));
    // 12 flushes of 1, 2 or 3 rows: each name runs 4 times on a pool of two connections.
    for (let flush = 0; flush < 12; flush++) {
      for (const sessionId of sessions.slice(0, (flush % 3) + 1)) {
        const seq = seqs.get(sessionId)! + 1;
        seqs.set(sessionId, seq);
        const json = JSON.stringify({ seq, flush, text: `flush ${flush} é` });
        writer.push({ sessionId, seq, t: new Date().toISOString(), kind: 'query', json }, `flush ${flush}`);
      }
      await writer.flush();
    }
    await writer.close();
    for (const sessionId of sessions) {
      const rows = await db.prisma.recordingChunk.findMany({ where: { sessionId }, orderBy: { firstSeq: 'asc' } });
      const stored = rows.flatMap((row) => JSON.parse(row.events) as { seq: number; text: string }[]);
      expect(stored.map((e) => e.seq)).toEqual(Array.from({ length: seqs.get(sessionId)! }, (_, i) => i + 1));
      expect(stored.every((e) => e.text.endsWith(' é'))).toBe(true);
    }
    expect(seqs.get(sessions[0]!)).toBe(12);
  });
});
