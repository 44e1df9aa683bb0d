import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeEvents } from '../../apps/api/src/jobs/event-retention.js';
import { EventPublisher } from '@warden/events';
import { openDatabase, type Database } from '@warden/db';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

// WARDEN_EVENT_RETENTION_DAYS: dispatched events past the retention go, with their deliveries;
// recent ones and ones not yet dispatched stay. A migrated database with no API on it, so no
// dispatcher marks events dispatched behind the test's back.

let database: TestDatabase;
let db: Database;
beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase({ databaseUrl: database.url, dataDir: '.data' });
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

describe('event retention', () => {
  it('deletes dispatched events older than the retention, keeps the rest', async () => {
    const { prisma } = db;
    const publisher = new EventPublisher(prisma);
    const day = 24 * 3600_000;
    const data = { action: 'session.read', by: null, view: null };
    const old = await publisher.emit('recording.read', { time: new Date(Date.now() - 40 * day) }, data);
    const oldUndispatched = await publisher.emit('recording.read', { time: new Date(Date.now() - 40 * day) }, data);
    const recent = await publisher.emit('recording.read', { time: new Date(Date.now() - 5 * day) }, data);
    await prisma.event.updateMany({ where: { id: { in: [old!.id, recent!.id] } }, data: { dispatchedAt: new Date() } });
    expect(await purgeEvents(prisma, 30)).toBeGreaterThanOrEqual(1);
    const left = (await prisma.event.findMany({ select: { id: true } })).map((e) => e.id);
    expect(left).not.toContain(old!.id);
    expect(left).toContain(recent!.id);
    expect(left).toContain(oldUndispatched!.id);
  });
});
