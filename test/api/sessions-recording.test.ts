import http from 'node:http';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExport, parsePublicKey, renderTranscript, verifyRecording } from '@warden/recording';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';
import {
  createConnection,
  recordSession,
  serverSentEvents,
  SessionWriter,
  signerOf,
  type Ref,
} from '../support/recordings.js';

let api: TestApi;
let alice: Awaited<ReturnType<typeof createIdentity>>;
let aliceRef: Ref;
let prod: Ref;
let sealed: SessionWriter;

const statements = [
  {
    text: 'SELECT id, email FROM customers ORDER BY id',
    rows: [
      ['1', 'a***@example.com'],
      ['2', null as never],
    ],
  },
  { text: "UPDATE customers SET tier = 'gold' WHERE id = 2" },
  { text: 'DROP TABLE customers', blocked: 'no-ddl' },
  { text: 'SELECT 42' },
];

beforeAll(async () => {
  api = await startTestApi();
  await api.request('POST', '/api/groups', { body: { name: 'engineering' } });
  await createAgent(api, 'default');
  prod = await createConnection(api, 'pg-prod');
  alice = await createIdentity(api, 'alice', { groups: ['engineering'] });
  aliceRef = { id: alice.id, name: 'alice' };
  sealed = await recordSession(api.db.prisma, api.secretBox, { identity: aliceRef, connection: prod, statements });
});
afterAll(async () => {
  await api?.close();
});

async function fetchAs(path: string, token = api.adminKey, headers: Record<string, string> = {}) {
  return fetch(api.baseUrl + path, { headers: { authorization: `Bearer ${token}`, ...headers } });
}

async function auditActions(sessionId: string): Promise<string[]> {
  const res = await api.request('GET', `/api/audit?targetId=${sessionId}`);
  return res.body.items.map((e: any) => e.action);
}

/** Runs SQL on its own connection, outside Prisma, to see Postgres' own error codes. */
async function sql<T extends pg.QueryResultRow = any>(text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: api.databaseUrl });
  await client.connect();
  try {
    return await client.query<T>(text, values);
  } finally {
    await client.end();
  }
}

/** A recording of `statements` stored four events to a chunk: the second chunk holds seq 5..8. */
function recordInChunksOfFour() {
  return recordSession(api.db.prisma, api.secretBox, {
    identity: aliceRef,
    connection: prod,
    chunkSize: 4,
    statements,
  });
}

/**
 * Sets the events of a session's second chunk to `expression` (SQL over `events`), behind the
 * immutability trigger: only a table owner can do this, and it leaves no trace in the rows, so
 * the chain is what has to catch it.
 */
async function rewriteSecondChunk(sessionId: string, expression: string): Promise<void> {
  await sql('ALTER TABLE "RecordingChunk" DISABLE TRIGGER USER');
  try {
    const updated = await sql(
      `UPDATE "RecordingChunk" SET events = ${expression} WHERE "sessionId" = $1 AND "firstSeq" = 5`,
      [sessionId],
    );
    expect(updated.rowCount).toBe(1);
  } finally {
    await sql('ALTER TABLE "RecordingChunk" ENABLE TRIGGER USER');
  }
}

describe('GET /api/sessions/:id/export', () => {
  it('streams JSON Lines that parse back and verify offline with the published key', async () => {
    const res = await fetchAs(`/api/sessions/${sealed.id}/export`, alice.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get('content-disposition')).toContain(`session-${sealed.id}.jsonl`);
    const text = await res.text();
    expect(text.trim().split('\n')).toHaveLength(1 + sealed.events.length);
    const parsed = parseExport(text);
    expect(parsed.events).toEqual(sealed.events);
    expect(parsed.header.seal).toEqual(sealed.seal);
    expect(parsed.header.publicKey).toBe(signerOf(api.secretBox).publicKeyPem);
    expect(parsed.header.session).toMatchObject({
      id: sealed.id,
      identity: { name: 'alice' },
      connection: { name: 'pg-prod' },
      status: 'closed',
    });
    const report = verifyRecording({
      sessionId: sealed.id,
      events: parsed.events,
      seal: parsed.header.seal,
      publicKey: parsePublicKey(parsed.header.publicKey!),
    });
    expect(report).toMatchObject({ ok: true, chain: 'intact', seal: 'valid' });
    expect(await auditActions(sealed.id)).toContain('session.export');
  });

  it('streams a long recording across many chunks', async () => {
    const long = await SessionWriter.start(api.db.prisma, api.secretBox, {
      identity: aliceRef,
      connection: prod,
      chunkSize: 50,
    });
    for (let i = 0; i < 1500; i++) long.statement({ text: `SELECT ${i} AS n, repeat('x', 100)` });
    await long.end();
    const res = await fetchAs(`/api/sessions/${long.id}/export`);
    const parsed = parseExport(await res.text());
    expect(parsed.events.map((e) => e.seq)).toEqual(long.events.map((e) => e.seq));
    expect(parsed.events.at(-1)).toEqual(long.events.at(-1));
    const verify = await api.request('GET', `/api/sessions/${long.id}/verify`);
    expect(verify.body).toMatchObject({ ok: true, eventCount: long.events.length });
  });
});

describe('GET /api/sessions/:id/transcript', () => {
  it('renders the psql-style transcript', async () => {
    const res = await fetchAs(`/api/sessions/${sealed.id}/transcript`, alice.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toBe(renderTranscript(sealed.events));
    expect(text).toContain("UPDATE customers SET tier = 'gold' WHERE id = 2");
    expect(await auditActions(sealed.id)).toContain('session.transcript');
  });
});

describe('GET /api/sessions/:id/verify', () => {
  it('reports an intact, validly sealed recording', async () => {
    const res = await api.request('GET', `/api/sessions/${sealed.id}/verify`, { token: alice.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: true,
      chain: 'intact',
      seal: 'valid',
      eventCount: sealed.events.length,
      summary: expect.stringMatching(/^OK/),
    });
    expect(res.body).not.toHaveProperty('brokenAt');
    expect(await auditActions(sealed.id)).toContain('session.verify');
  });

  it('reports a running session as intact and not sealed yet', async () => {
    const running = await recordSession(api.db.prisma, api.secretBox, {
      identity: aliceRef,
      connection: prod,
      statements: [{ text: 'SELECT 1' }],
      active: true,
    });
    const res = await api.request('GET', `/api/sessions/${running.id}/verify`);
    expect(res.body).toMatchObject({ ok: true, chain: 'intact', seal: 'unsealed', eventCount: 3 });
  });

  it('pinpoints the event that was altered behind the trigger', async () => {
    const victim = await recordInChunksOfFour();
    // seq 6 is the second event of the second chunk (seq 5..8): the blocked DROP's statement.
    const target = victim.events[5]!;
    expect(target).toMatchObject({ seq: 6, kind: 'query' });
    await rewriteSecondChunk(victim.id, `jsonb_set(events::jsonb, '{1,payload,text}', '"SELECT 1"')::text`);
    const res = await api.request('GET', `/api/sessions/${victim.id}/verify`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ok: false,
      chain: 'broken',
      brokenAt: { seq: 6, reason: 'hash-mismatch' },
      summary: expect.stringMatching(/^FAILED: chain broken at seq 6/),
    });
    const events = await api.request('GET', `/api/sessions/${victim.id}/events?after=5&limit=1`);
    expect(events.body.events[0].payload.text).toBe('SELECT 1');
  });
});

describe('a chunk that no longer parses', () => {
  it('reads as missing events, and verify reports where the chain breaks', async () => {
    const victim = await recordInChunksOfFour();
    // The column is text: the database no longer refuses what is not JSON, the chain still catches it.
    await rewriteSecondChunk(victim.id, 'left(events, 40)');
    const res = await api.request('GET', `/api/sessions/${victim.id}/verify`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ok: false, chain: 'broken', brokenAt: { seq: 9, reason: 'seq-gap' } });
    const events = await api.request('GET', `/api/sessions/${victim.id}/events?limit=100`);
    expect(events.status).toBe(200);
    expect(events.body.events.map((e: { seq: number }) => e.seq)).not.toContain(5);
  });
});

describe('recorded events in the database', () => {
  it('refuses UPDATE and DELETE with SQLSTATE 42501', async () => {
    const chunk = await api.db.prisma.recordingChunk.findFirstOrThrow({ where: { sessionId: sealed.id } });
    for (const statement of [
      `UPDATE "RecordingChunk" SET events = '[]' WHERE id = $1`,
      `DELETE FROM "RecordingChunk" WHERE id = $1`,
    ]) {
      await expect(sql(statement, [chunk.id.toString()])).rejects.toMatchObject({
        code: '42501',
        message: expect.stringMatching(/immutable/),
      });
    }
    // The retention switch allows DELETE only: even the purge cannot rewrite an event.
    const client = new pg.Client({ connectionString: api.databaseUrl });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL warden.retention_purge = 'on'`);
      await expect(
        client.query(`UPDATE "RecordingChunk" SET events = '[]' WHERE id = $1`, [chunk.id.toString()]),
      ).rejects.toMatchObject({ code: '42501' });
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
    const after = await api.db.prisma.recordingChunk.findUniqueOrThrow({ where: { id: chunk.id } });
    expect(after.events).toEqual(chunk.events);
  });
});

describe('GET /api/sessions/:id/live', () => {
  it('sends the recorded events, then new ones as they are written, then end', async () => {
    const live = await SessionWriter.start(api.db.prisma, api.secretBox, { identity: aliceRef, connection: prod });
    live.statement({ text: 'SELECT 1' });
    await live.flush();
    const res = await fetchAs(`/api/sessions/${live.id}/live`, alice.token);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const received: any[] = [];
    let end: any;
    let appended = false;
    for await (const message of serverSentEvents(res.body!)) {
      if (message.event === 'end') {
        end = JSON.parse(message.data);
        break;
      }
      const event = JSON.parse(message.data);
      expect(message.id).toBe(String(event.seq));
      received.push(event);
      // Once the first three events arrived, the session goes on and then ends, written by "another process".
      if (received.length === 3 && !appended) {
        appended = true;
        live.statement({ text: 'SELECT 2' });
        await live.flush();
        live.statement({ text: 'SELECT 3' });
        await live.end();
      }
    }
    expect(received).toEqual(live.events);
    expect(end).toEqual({ status: 'closed', endReason: 'client terminated', lastSeq: live.events.length });
    expect(await auditActions(live.id)).toEqual(['session.watch']);
  });

  it('resumes after Last-Event-ID and ends at once for a finished session', async () => {
    const res = await fetchAs(`/api/sessions/${sealed.id}/live`, api.adminKey, { 'last-event-id': '5' });
    const messages: { event: string; data: string }[] = [];
    for await (const message of serverSentEvents(res.body!)) messages.push(message);
    expect(messages.map((m) => m.event)).toEqual([...sealed.events.slice(5).map(() => 'event'), 'end']);
    expect(JSON.parse(messages[0]!.data).seq).toBe(6);
  });

  it('stops watching when the client disconnects', async () => {
    const running = await recordSession(api.db.prisma, api.secretBox, {
      identity: aliceRef,
      connection: prod,
      statements: [{ text: 'SELECT 1' }],
      active: true,
    });
    // A plain HTTP request, so the test controls the connection (fetch may open another on abort).
    const url = new URL(`/api/sessions/${running.id}/live`, api.baseUrl);
    const request = http.get(url, { headers: { authorization: `Bearer ${api.adminKey}` }, agent: false });
    const response = await new Promise<http.IncomingMessage>((resolve) => request.once('response', resolve));
    expect(response.statusCode).toBe(200);
    await new Promise((resolve) => response.once('data', resolve));
    request.destroy();
    // The server notices: the stream is closed and the watch stops polling.
    await expect.poll(() => api.logs.some((l) => l.includes('stream closed prematurely'))).toBe(true);
  });
});
