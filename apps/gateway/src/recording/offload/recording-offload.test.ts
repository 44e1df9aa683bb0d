import { randomBytes, randomUUID } from 'node:crypto';
import { BackendSerializer as S, serializeFrontend } from '@warden/pg-wire';
import {
  GENESIS_HASH,
  recordingSignerFrom,
  verifyRecording,
  type RecordedEvent,
  type RecordingSeal,
} from '@warden/recording';
import { createLogger } from '@warden/runtime';
import { describe, expect, it } from 'vitest';
import { RecordingWriter } from '../recording-writer.js';
import { RecordingOffload, type OffloadedRecording } from './recording-offload.js';

// The offload on its own: the gateway's side appends ops, the pipeline (in a real worker thread,
// or on this thread) turns them into chained events, and the writer gets chunk rows. The
// database insert is replaced by a function that keeps the rows (the real insert, and the whole
// gateway with it, run end to end in test/recording).

const logger = createLogger({ level: 'silent' } as never);
const OPTIONS = { enabled: true, maxRows: 100, maxBytes: 64 * 1024 };
const rowDesc = S.rowDescription([{ name: 'n', tableOID: 0, columnAttr: 0, dataTypeOID: 23, typeSize: 4 }]);

function harness(inThread: boolean) {
  const rows: (string | number)[][] = [];
  const writer = new RecordingWriter(
    async (_sql, params) => {
      for (let i = 0; i < params.length; i += 7) rows.push(params.slice(i, i + 7) as (string | number)[]);
    },
    logger,
    { flushIntervalMs: 5 },
  );
  const signer = recordingSignerFrom(() => randomBytes(32));
  const offload = new RecordingOffload(writer, signer, logger, { inThread });
  // Stored events leave prevHash out; readers restore it from the event before (as the API does).
  const eventsOf = (sessionId: string): RecordedEvent[] => {
    const events = rows
      .filter((row) => row[0] === sessionId)
      .flatMap((row) => JSON.parse(row[5] as string) as RecordedEvent[])
      .sort((a, b) => a.seq - b.seq);
    events.forEach((e, i) => (e.prevHash = i ? events[i - 1]!.hash : GENESIS_HASH));
    return events;
  };
  const verify = (sessionId: string, seal: RecordingSeal) =>
    verifyRecording({ sessionId, events: eventsOf(sessionId), seal, publicKey: signer.publicKey });
  return { offload, rows, eventsOf, verify };
}

function start(recording: OffloadedRecording): void {
  recording.record('gateway', 'session.start', {
    protocol: 'postgres',
    identity: { id: 'i', name: 'ada' },
    connection: { id: 'c', name: 'pg' },
    agent: { id: 'a', name: 'edge' },
    clientAddr: null,
    clientTls: false,
    clientUser: null,
    signingKeyId: 'k',
  });
}

const END = { status: 'closed', reason: 'client terminated', counters: {} } as never;

describe.each([
  ['in a worker thread', false],
  ['on the gateway thread', true],
])('RecordingOffload %s', (_mode, inThread) => {
  it('records statements and the replies the client received, chained and sealed', async () => {
    const { offload, eventsOf, verify } = harness(inThread);
    const id = randomUUID();
    const recording = offload.open(id, OPTIONS);
    start(recording);
    recording.client(serializeFrontend.query('SELECT 41 + 1 AS n'));
    const reply = Buffer.concat([
      rowDesc,
      S.dataRow([Buffer.from('42')]),
      S.commandComplete('SELECT 1'),
      S.readyForQuery('I'),
    ]);
    // Split mid-frame, and sent to the pipeline separately: a frame spans two op logs.
    recording.server(reply.subarray(0, 9));
    offload.send();
    recording.server(reply.subarray(9));
    const seal = await recording.end(END);

    const events = eventsOf(id);
    expect(events.map((e) => e.kind)).toEqual(['session.start', 'query', 'result', 'session.end']);
    expect(events[1]!.payload).toEqual({ text: 'SELECT 41 + 1 AS n', decision: { action: 'allow' } });
    expect(events[2]!.payload).toMatchObject({ ref: 2, tag: 'SELECT 1', rowCount: 1, rows: [['42']] });
    expect(verify(id, seal)).toMatchObject({ ok: true, chain: 'intact', seal: 'valid' });
    await offload.close();
  });

  it("refers a held statement's review events to its seq, and records the decision it met", async () => {
    const { offload, eventsOf, verify } = harness(inThread);
    const id = randomUUID();
    const recording = offload.open(id, OPTIONS);
    start(recording);
    recording.client(serializeFrontend.query('SELECT 1'));
    const held = recording.client(
      serializeFrontend.query('DELETE FROM t'),
      { action: 'review', rule: 'deletes' },
      true,
    );
    expect(held).toBeGreaterThan(0);
    recording.record('gateway', 'review.requested', {
      ref: held,
      reviewId: 'r1',
      rule: 'deletes',
      approverGroups: ['dba'],
      approvals: 1,
      expiresAt: new Date(0).toISOString(),
    });
    recording.record('gateway', 'review.decided', {
      ref: held,
      reviewId: 'r1',
      status: 'approved',
      by: { id: 'g', name: 'grace' },
    });
    const seal = await recording.end(END);

    const events = eventsOf(id);
    const statement = events.find(
      (e) => e.kind === 'query' && (e.payload as { text: string }).text === 'DELETE FROM t',
    )!;
    expect(statement.payload).toMatchObject({ decision: { action: 'review', rule: 'deletes' } });
    const reviews = events.filter((e) => e.kind.startsWith('review.'));
    expect(reviews.map((e) => [e.kind, (e.payload as { ref: number }).ref])).toEqual([
      ['review.requested', statement.seq],
      ['review.decided', statement.seq],
    ]);
    expect(verify(id, seal).ok).toBe(true);
    await offload.close();
  });

  it('records a COPY FROM STDIN with exact counts and its data up to the cap', async () => {
    const { offload, eventsOf, verify } = harness(inThread);
    const id = randomUUID();
    const recording = offload.open(id, OPTIONS);
    recording.client(serializeFrontend.query('COPY t FROM STDIN'));
    recording.server(S.copyInResponse(0, [0]));
    const lines = Array.from({ length: 300 }, (_, i) => Buffer.from(`${i}\n`));
    for (const [i, line] of lines.entries()) {
      recording.client(serializeFrontend.copyData(line));
      // Ops go to the pipeline mid-COPY too.
      if (i === 150) offload.send();
    }
    recording.client(serializeFrontend.copyDone());
    recording.server(Buffer.concat([S.commandComplete('COPY 300'), S.readyForQuery('I')]));
    const seal = await recording.end(END);

    const result = eventsOf(id).find((e) => e.kind === 'result')!;
    expect(result.payload).toMatchObject({
      tag: 'COPY 300',
      rowCount: 300,
      bytes: lines.reduce((sum, line) => sum + line.length, 0),
      truncated: true,
      copy: { direction: 'in', data: lines.slice(0, OPTIONS.maxRows).map(String) },
    });
    expect(verify(id, seal).ok).toBe(true);
    await offload.close();
  });

  it('keeps sessions apart and flush() writes everything appended before it', async () => {
    const { offload, eventsOf } = harness(inThread);
    const ids = [randomUUID(), randomUUID()];
    const recordings = ids.map((id) => offload.open(id, OPTIONS));
    for (let i = 0; i < 50; i++) {
      for (const [n, recording] of recordings.entries()) {
        recording.client(serializeFrontend.query(`SELECT ${n}, ${i}`));
        recording.server(Buffer.concat([S.commandComplete('SELECT 0'), S.readyForQuery('I')]));
      }
    }
    await offload.flush();
    for (const [n, id] of ids.entries()) {
      const events = eventsOf(id);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(events.filter((e) => e.kind === 'query').map((e) => (e.payload as { text: string }).text)).toEqual(
        Array.from({ length: 50 }, (_, i) => `SELECT ${n}, ${i}`),
      );
    }
    await offload.close();
  });

  it('stops recording a session whose replies cannot be parsed, and says so, without touching others', async () => {
    const { offload, eventsOf } = harness(inThread);
    const [bad, good] = [randomUUID(), randomUUID()];
    const badRecording = offload.open(bad, OPTIONS);
    const goodRecording = offload.open(good, OPTIONS);
    badRecording.client(serializeFrontend.query('SELECT 1'));
    // A frame that claims a length below its own header.
    badRecording.server(Buffer.from([0x44, 0, 0, 0, 1]));
    goodRecording.client(serializeFrontend.query('SELECT 2'));
    goodRecording.server(Buffer.concat([S.commandComplete('SELECT 0'), S.readyForQuery('I')]));
    await Promise.all([badRecording.end(END), goodRecording.end(END)]);
    expect(eventsOf(bad).map((e) => e.kind)).toEqual(['query', 'session.end']);
    expect(eventsOf(good).map((e) => e.kind)).toEqual(['query', 'result', 'session.end']);
    await offload.close();
  });
});
