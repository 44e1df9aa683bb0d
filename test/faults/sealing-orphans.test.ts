import { Writable } from 'node:stream';
import type { PrismaClient } from '@warden/db';
import { recoveredEndOf, type RecordedEvent, type RecordingSigner } from '@warden/recording';
import { createLogger } from '@warden/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endOrphanedRecording } from '../../apps/gateway/src/recording/interrupted-seal.js';
import { SessionTracker, type LiveSession, type OrphanEnder } from '../../apps/gateway/src/session-tracker.js';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';
import { createConnection, SessionWriter, signerOf, type Ref } from '../support/recordings.js';

// Ending the sessions a gateway left `active` when it went away (apps/gateway session-tracker's
// recoverOrphans and recording/interrupted-seal), on the real control-plane Postgres with the real
// API reading the result: the recording sealed over what was stored and marked as interrupted,
// gateways racing for the same session, recordings that already held their end, unrecorded
// connections, and the gateway that comes back to find its live sessions ended elsewhere.
let api: TestApi;
let prisma: PrismaClient;
let signer: RecordingSigner;
let alice: Ref;
let recorded: Ref;
let unrecorded: Ref;
let agentId: string;
const quiet = createLogger({ level: 'silent', destination: new Writable({ write: (_c, _e, done) => done() }) });
const trackers: SessionTracker[] = [];

beforeAll(async () => {
  api = await startTestApi();
  prisma = api.db.prisma;
  signer = signerOf(api.secretBox);
  await api.request('POST', '/api/groups', { body: { name: 'engineering' } });
  agentId = (await createAgent(api, 'default')).id;
  recorded = await createConnection(api, 'pg-recorded');
  unrecorded = await createConnection(api, 'pg-unrecorded', { recording: { enabled: false } });
  const identity = await createIdentity(api, 'alice', { groups: ['engineering'] });
  alice = { id: identity.id, name: 'alice' };
});

afterAll(async () => {
  for (const tracker of trackers) {
    await tracker.events.flush();
    tracker.close();
  }
  await api?.close();
});

/** A gateway's session tracker under `gatewayId`, ending orphans' recordings as that gateway. */
function gateway(gatewayId: string): { tracker: SessionTracker; ender: OrphanEnder } {
  const tracker = new SessionTracker(prisma, gatewayId, quiet);
  trackers.push(tracker);
  return { tracker, ender: (session, reason) => endOrphanedRecording(prisma, signer, session, gatewayId, reason) };
}

/** A session gateway `gw-test` was running when it went away: `statements` run, all stored. */
async function orphan(statements: number, connection = recorded): Promise<SessionWriter> {
  const writer = await SessionWriter.start(prisma, api.secretBox, { identity: alice, connection, chunkSize: 3 });
  for (let i = 0; i < statements; i++) writer.statement({ text: `SELECT ${i}` });
  if (statements > 0) await writer.flush();
  return writer;
}

async function storedEvents(sessionId: string): Promise<RecordedEvent[]> {
  const res = await api.request('GET', `/api/sessions/${sessionId}/events?limit=1000`);
  expect(res.status, res.text).toBe(200);
  return res.body.events;
}

async function verify(sessionId: string) {
  const res = await api.request('GET', `/api/sessions/${sessionId}/verify`);
  expect(res.status, res.text).toBe(200);
  return res.body;
}

describe('an orphaned session of a gateway that went away', () => {
  it('ends interrupted, its recording sealed over what was stored under a recovered session.end', async () => {
    const writer = await orphan(2);
    const stored = writer.events.length;
    const { tracker, ender } = gateway('gw-b');
    const { ended, failed } = await tracker.recoverOrphans({ gatewayId: 'gw-test' }, 'gw-test went away', ender);
    expect(ended).toEqual([writer.id]);
    expect(failed).toEqual([]);

    const row = await prisma.session.findUniqueOrThrow({ where: { id: writer.id } });
    expect(row.status).toBe('interrupted');
    expect(row.endReason).toBe('gw-test went away');
    expect(row.endedAt).not.toBeNull();
    expect(row.sealedSeq).toBe(stored + 1);
    expect(row.eventCount).toBe(stored + 1);

    const events = await storedEvents(writer.id);
    // What the gone gateway stored is there unchanged, then the end the recovering gateway wrote.
    expect(events.slice(0, stored).map((e) => e.hash)).toEqual(writer.events.map((e) => e.hash));
    expect(events).toHaveLength(stored + 1);
    const end = events.at(-1)!;
    expect(end).toMatchObject({ seq: stored + 1, kind: 'session.end', direction: 'gateway' });
    expect(end.payload).toMatchObject({ status: 'interrupted', reason: 'gw-test went away' });
    expect(recoveredEndOf(end)).toEqual({ gatewayId: 'gw-test', by: 'gw-b', storedSeq: stored });

    const report = await verify(writer.id);
    expect(report).toMatchObject({ ok: true, chain: 'intact', seal: 'valid', sealedAs: 'interrupted' });
    expect(report.summary).toContain('gateway gw-test went away without ending the session; gateway gw-b ended it');

    await tracker.events.flush();
    const emitted = await prisma.event.findMany({ where: { type: 'session.ended', sessionId: writer.id } });
    expect(emitted).toHaveLength(1);
    expect((emitted[0]!.envelope as { data: { status: string } }).data.status).toBe('interrupted');
  });

  it('is ended once when two gateways end it at the same time: one end stored, one seal', async () => {
    const writer = await orphan(3);
    const b = gateway('gw-b');
    const c = gateway('gw-c');
    const [byB, byC] = await Promise.all([
      b.tracker.recoverOrphans({ gatewayId: 'gw-test', ids: [writer.id] }, 'gone (b)', b.ender),
      c.tracker.recoverOrphans({ gatewayId: 'gw-test', ids: [writer.id] }, 'gone (c)', c.ender),
    ]);
    expect([...byB.ended, ...byC.ended]).toEqual([writer.id]);
    expect([...byB.failed, ...byC.failed]).toEqual([]);
    const winner = byB.ended.length ? 'gw-b' : 'gw-c';

    const events = await storedEvents(writer.id);
    expect(events.filter((e) => e.kind === 'session.end')).toHaveLength(1);
    expect(recoveredEndOf(events.at(-1))?.by).toBe(winner);
    const row = await prisma.session.findUniqueOrThrow({ where: { id: writer.id } });
    expect(row.endReason).toBe(winner === 'gw-b' ? 'gone (b)' : 'gone (c)');
    expect(await verify(writer.id)).toMatchObject({ ok: true, seal: 'valid', sealedAs: 'interrupted' });
    await Promise.all([b.tracker.events.flush(), c.tracker.events.flush()]);
    expect(await prisma.event.count({ where: { type: 'session.ended', sessionId: writer.id } })).toBe(1);
  });

  it('gets a recovered end at seq 1 when nothing had been stored yet on a recorded connection', async () => {
    const writer = await orphan(0);
    const { tracker, ender } = gateway('gw-b');
    expect((await tracker.recoverOrphans({ gatewayId: 'gw-test', ids: [writer.id] }, 'gone', ender)).ended).toEqual([
      writer.id,
    ]);
    const events = await storedEvents(writer.id);
    expect(events).toHaveLength(1);
    expect(recoveredEndOf(events[0])).toEqual({ gatewayId: 'gw-test', by: 'gw-b', storedSeq: 0 });
    const report = await verify(writer.id);
    expect(report).toMatchObject({ ok: true, seal: 'valid', sealedAs: 'interrupted', eventCount: 1 });
    expect(report.summary).toContain('no event had been stored');
  });

  it('on a connection that does not record, ends interrupted without a recording being made up', async () => {
    const writer = await orphan(0, unrecorded);
    const { tracker, ender } = gateway('gw-b');
    expect((await tracker.recoverOrphans({ gatewayId: 'gw-test', ids: [writer.id] }, 'gone', ender)).ended).toEqual([
      writer.id,
    ]);
    const row = await prisma.session.findUniqueOrThrow({ where: { id: writer.id } });
    expect(row.status).toBe('interrupted');
    expect(row.finalHash).toBeNull();
    expect(await prisma.recordingChunk.count({ where: { sessionId: writer.id } })).toBe(0);
  });

  it('whose recording already held its own end (stored, row not written) is sealed as ended, with that status', async () => {
    const writer = await orphan(2);
    writer.add('gateway', 'session.end', {
      status: 'closed',
      reason: 'client terminated',
      counters: { bytesIn: 10, bytesOut: 20, statements: 2, blocked: 0 },
    });
    await writer.flush();
    const { tracker, ender } = gateway('gw-b');
    expect((await tracker.recoverOrphans({ gatewayId: 'gw-test', ids: [writer.id] }, 'gone', ender)).ended).toEqual([
      writer.id,
    ]);
    const row = await prisma.session.findUniqueOrThrow({ where: { id: writer.id } });
    expect(row).toMatchObject({ status: 'closed', endReason: 'client terminated', statementCount: 2 });
    expect(row.bytesOut).toBe(20n);
    expect(await storedEvents(writer.id)).toHaveLength(writer.events.length);
    expect(await verify(writer.id)).toMatchObject({ ok: true, seal: 'valid', sealedAs: 'ended' });
  });

  it('is not taken from the gateway that runs it: a session it is setting up is left alone', async () => {
    const { tracker, ender } = gateway('gw-own');
    const id = await tracker.begin({
      identityId: alice.id,
      connectionId: recorded.id,
      agentId,
      protocol: 'postgres',
      clientAddr: '127.0.0.1',
      clientTls: false,
      clientUser: 'alice',
    });
    expect((await tracker.recoverOrphans({ gatewayId: 'gw-own' }, 'restarted', ender)).ended).toEqual([]);
    expect((await prisma.session.findUniqueOrThrow({ where: { id } })).status).toBe('active');
    await tracker.finish(id, { status: 'closed', reason: 'done', counters: counters() });
  });
});

function counters() {
  return { bytesIn: 1, bytesOut: 2, statements: 3, blocked: 0 };
}

describe('a gateway whose live session another replica ended while it was out of reach', () => {
  it('disconnects it, and its own end does not overwrite the other replica’s', async () => {
    const { tracker } = gateway('gw-cut-off');
    const id = await tracker.begin({
      identityId: alice.id,
      connectionId: unrecorded.id,
      agentId,
      protocol: 'postgres',
      clientAddr: '127.0.0.1',
      clientTls: false,
      clientUser: 'alice',
    });
    const terminated: { reason: string; status: string }[] = [];
    const live: LiveSession = {
      id,
      identityId: alice.id,
      connectionId: unrecorded.id,
      viaGrant: false,
      credential: {},
      counters: counters(),
      terminate(reason, status) {
        terminated.push({ reason, status });
        void tracker.finish(id, { status, reason, counters: counters() });
      },
    };
    tracker.register(live);
    // Nothing ended it yet: the check leaves it running.
    expect(await tracker.endSessionsEndedElsewhere()).toBe(0);
    expect(terminated).toEqual([]);

    const other = gateway('gw-other');
    const recovered = await other.tracker.recoverOrphans(
      { gatewayId: 'gw-cut-off' },
      'gw-cut-off went away',
      other.ender,
    );
    expect(recovered.ended).toEqual([id]);

    expect(await tracker.endSessionsEndedElsewhere()).toBe(1);
    expect(terminated).toEqual([
      { reason: 'another gateway replica took this one for gone and ended the session', status: 'interrupted' },
    ]);
    await expect.poll(() => tracker.size).toBe(0);
    await tracker.events.flush();
    const row = await prisma.session.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'interrupted', endReason: 'gw-cut-off went away', statementCount: 0 });
    await other.tracker.events.flush();
    // One session.ended: the other replica's; this gateway's end was not written, so not announced.
    expect(await prisma.event.count({ where: { type: 'session.ended', sessionId: id } })).toBe(1);
  });
});
