import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { eventHash, GENESIS_HASH, parsePublicKey, verifySealSignature, type RecordedEvent } from '@warden/recording';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { sealedSession } from '../support/recordings.js';

// Recording end to end: real psql / node-postgres clients through the real gateway
// and agent processes; the events are read back from the control-plane database.

// The target role is the local superuser `postgres`: column masking on it needs the opt-in.
const MASKING_OPT_IN = { allowPrivilegedTargetWithMasking: true };
let dp: DataPath;
const secrets = ['ada.lovelace@example.com', '4111 1111 1111 1111', '123-45-6789'];

beforeAll(async () => {
  dp = await startDataPath();
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query('CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text, ssn text)');
  await direct.query(
    `INSERT INTO customers VALUES (1, 'Ada', $1, $2, $3), (2, 'Grace', 'g@navy.example.org', null, null)`,
    secrets,
  );
  await direct.end();
  const created = await Promise.all([
    dp.api.request('POST', '/api/policies', {
      body: {
        name: 'rec-guard',
        kind: 'guardrail',
        rules: { guardrails: [{ type: 'deny_kinds', name: 'no-drop', kinds: ['drop*'] }] },
      },
    }),
    dp.api.request('POST', '/api/policies', {
      body: {
        name: 'rec-mask',
        kind: 'masking',
        rules: {
          masking: {
            columns: [{ column: 'public.customers.ssn', strategy: 'redact' }],
            detectors: [
              { detector: 'email', strategy: 'domain' },
              { detector: 'credit_card', strategy: 'last4' },
            ],
          },
        },
      },
    }),
  ]);
  for (const r of created) expect(r.status, r.text).toBe(201);
  const attached = await dp.api.request('PATCH', '/api/connections/pg-test', {
    body: { policies: ['rec-guard', 'rec-mask'], options: MASKING_OPT_IN },
  });
  expect(attached.status, attached.text).toBe(200);
}, 120_000);

afterAll(async () => {
  await dp?.close();
});

async function sessionsSince(since: Date) {
  return dp.api.db.prisma.session.findMany({ where: { startedAt: { gte: since } }, orderBy: { startedAt: 'asc' } });
}

/** The session's events straight from its stored chunks (the API's reader is tested elsewhere). */
async function eventsOf(sessionId: string): Promise<RecordedEvent[]> {
  const chunks = await dp.api.db.prisma.recordingChunk.findMany({ where: { sessionId }, orderBy: { firstSeq: 'asc' } });
  let prevHash = GENESIS_HASH;
  return chunks.flatMap((chunk) =>
    (JSON.parse(chunk.events) as Omit<RecordedEvent, 'sessionId' | 'prevHash'>[]).map((e) => {
      const event = { ...e, sessionId, prevHash };
      prevHash = e.hash;
      return event;
    }),
  );
}

function expectIntactChain(events: RecordedEvent[]) {
  let prev = GENESIS_HASH;
  events.forEach((e, i) => {
    expect(e.seq).toBe(i + 1);
    expect(e.prevHash).toBe(prev);
    expect(eventHash(prev, e)).toBe(e.hash);
    prev = e.hash;
  });
  return prev;
}

describe('session recording', () => {
  it('records a psql session in order: statements, decisions, masked results, errors, end; sealed', async () => {
    const since = new Date();
    const out = await dp
      .psql([], {
        input: [
          'SELECT id, name, email, card, ssn FROM customers ORDER BY id;',
          'DROP TABLE customers;',
          'SELECT 1/0;',
          "SELECT 'after' AS still_here;",
        ].join('\n'),
        env: { PGOPTIONS: '' },
      })
      .catch((e) => e);
    // ON_ERROR_STOP=1 stops psql at the blocked DROP; run the rest in a second session below.
    expect(out.stderr).toContain('no-drop');

    const session = await sealedSession(dp.api.db.prisma, since);
    const events = await eventsOf(session.id);
    const kinds = events.map((e) => e.kind);
    expect(kinds[0]).toBe('session.start');
    expect(kinds.at(-1)).toBe('session.end');
    expect(kinds).toEqual(['session.start', 'query', 'result', 'query', 'error', 'session.end']);

    const start = events[0]!.payload as Record<string, any>;
    expect(start).toMatchObject({ protocol: 'postgres', connection: { name: 'pg-test' }, clientTls: false });
    expect(start.identity.name).toBeTruthy();

    const select = events[1]!;
    expect(select.payload).toMatchObject({
      text: expect.stringContaining('FROM customers'),
      decision: { action: 'allow' },
    });
    const result = events[2]!.payload as Record<string, any>;
    expect(result.ref).toBe(select.seq);
    expect(result.tag).toBe('SELECT 2');
    expect(result.rowCount).toBe(2);
    expect(result.columns.map((c: { name: string }) => c.name)).toEqual(['id', 'name', 'email', 'card', 'ssn']);
    expect(result.rows[0][1]).toBe('Ada');
    expect(result.rows[0][2]).toMatch(/@example\.com$/);
    expect(result.rows[0][3]).toMatch(/1111$/);

    const drop = events[3]!;
    expect(drop.payload).toMatchObject({
      text: 'DROP TABLE customers;',
      decision: { action: 'block', rule: 'no-drop' },
    });
    expect(events[4]!.payload).toMatchObject({ ref: drop.seq, code: '42501' });
    expect(events[5]!.payload).toMatchObject({ status: 'closed', counters: { statements: 2, blocked: 1 } });

    // Masked values only, and never the caller's token.
    const stored = JSON.stringify(events);
    for (const raw of secrets) expect(stored).not.toContain(raw);
    expect(stored).not.toContain(dp.adminKey);

    // The chain is intact and the seal verifies with the published key.
    const finalHash = expectIntactChain(events);
    expect(session.finalHash).toBe(finalHash);
    expect(session.sealedSeq).toBe(events.length);
    expect(session.eventCount).toBe(events.length);
    const key = await dp.api.db.prisma.recordingKey.findUniqueOrThrow({ where: { id: session.signingKeyId! } });
    const seal = {
      sessionId: session.id,
      lastSeq: session.sealedSeq!,
      finalHash: session.finalHash!,
      signature: session.signature!,
      signingKeyId: session.signingKeyId!,
    };
    expect(verifySealSignature(seal, parsePublicKey(key.publicKey))).toBe(true);
    expect(verifySealSignature({ ...seal, lastSeq: seal.lastSeq - 1 }, parsePublicKey(key.publicKey))).toBe(false);
  });

  it('records multi-statement queries, errors, notices and the extended protocol with parameters', async () => {
    const since = new Date();
    const c = new pg.Client({ connectionString: dp.url() });
    await c.connect();
    await c.query("SELECT 1 AS a; SELECT 'two' AS b");
    await c.query('SELECT name FROM customers WHERE id = $1 AND name <> $2', [2, 'nobody']);
    await c.query({ name: 'by-id', text: 'SELECT id FROM customers WHERE id = $1', values: [1] });
    await c.query({ name: 'by-id', text: 'SELECT id FROM customers WHERE id = $1', values: [2] });
    await expect(c.query('SELECT 1/0')).rejects.toThrow(/division by zero/);
    await c.query("DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$");
    await c.end();

    const session = await sealedSession(dp.api.db.prisma, since);
    const events = await eventsOf(session.id);
    expectIntactChain(events);
    const byKind = (kind: string) => events.filter((e) => e.kind === kind).map((e) => e.payload as Record<string, any>);

    const [multi] = byKind('query');
    expect(multi!.text).toBe("SELECT 1 AS a; SELECT 'two' AS b");
    const multiSeq = events.find((e) => e.kind === 'query')!.seq;
    const multiResults = byKind('result').filter((r) => r.ref === multiSeq);
    expect(multiResults.map((r) => r.rows)).toEqual([[['1']], [['two']]]);

    const executes = byKind('execute');
    expect(executes[0]).toMatchObject({
      text: 'SELECT name FROM customers WHERE id = $1 AND name <> $2',
      params: ['2', 'nobody'],
      decision: { action: 'allow' },
    });
    const named = executes.filter((e) => e.statement === 'by-id');
    expect(named.map((e) => e.params)).toEqual([['1'], ['2']]);
    expect(byKind('prepare')).toEqual([
      { name: 'by-id', text: 'SELECT id FROM customers WHERE id = $1', decision: { action: 'allow' } },
    ]);
    const firstExecute = events.find((e) => e.kind === 'execute')!;
    expect(byKind('result').find((r) => r.ref === firstExecute.seq)).toMatchObject({
      tag: 'SELECT 1',
      rows: [['Grace']],
    });

    expect(byKind('error')).toEqual([expect.objectContaining({ code: '22012', message: 'division by zero' })]);
    expect(byKind('notice')).toEqual([expect.objectContaining({ message: 'hello from plpgsql' })]);
  });

  it('caps captured rows per statement but keeps exact counts; COPY both ways is recorded too', async () => {
    await dp.api.db.prisma.connection.update({
      where: { name: 'pg-test' },
      data: { options: { ...MASKING_OPT_IN, recording: { maxRows: 5 } } },
    });
    try {
      const since = new Date();
      // psql sends COPY data in buffers of several lines: 100 KB of it makes more CopyData messages than the cap.
      const copiedIn = Array.from({ length: 100 }, (_, i) => `${i}`.padEnd(1000, 'x') + '\n').join('');
      const out = await dp.psql(
        [
          '-c',
          'SELECT g FROM generate_series(1, 1000) g',
          '-c',
          'COPY (SELECT g FROM generate_series(1, 50) g) TO STDOUT',
          '-c',
          'CREATE TEMP TABLE copied (v text)',
          '-c',
          'COPY copied FROM STDIN',
        ],
        { input: copiedIn },
      );
      expect(out.code, out.stderr).toBe(0);
      const session = await sealedSession(dp.api.db.prisma, since);
      const results = (await eventsOf(session.id))
        .filter((e) => e.kind === 'result')
        .map((e) => e.payload as Record<string, any>);
      expect(results[0]).toMatchObject({ tag: 'SELECT 1000', rowCount: 1000, truncated: true });
      expect(results[0]!.rows).toEqual([['1'], ['2'], ['3'], ['4'], ['5']]);
      expect(results[1]).toMatchObject({ tag: 'COPY 50', rowCount: 50, truncated: true });
      expect(results[1]!.copy).toEqual({ direction: 'out', data: ['1\n', '2\n', '3\n', '4\n', '5\n'] });
      // COPY FROM STDIN: the data the client sent, counted exactly (rows are its CopyData messages)
      // and captured up to the cap.
      const copyIn = results.find((r) => r.tag === 'COPY 100')!;
      expect(copyIn).toMatchObject({ bytes: copiedIn.length, truncated: true });
      expect(copyIn.rowCount).toBeGreaterThan(5);
      expect(copyIn.copy.direction).toBe('in');
      expect(copyIn.copy.data).toHaveLength(5);
      expect(copiedIn.startsWith(copyIn.copy.data.join(''))).toBe(true);
    } finally {
      await dp.api.db.prisma.connection.update({ where: { name: 'pg-test' }, data: { options: MASKING_OPT_IN } });
    }
  });

  it('records nothing when the connection turns recording off', async () => {
    await dp.api.db.prisma.connection.update({
      where: { name: 'pg-test' },
      data: { options: { ...MASKING_OPT_IN, recording: { enabled: false } } },
    });
    try {
      const since = new Date();
      const out = await dp.psql(['-c', 'SELECT 42']);
      expect(out.code, out.stderr).toBe(0);
      await sleep(300);
      const [session] = await sessionsSince(since);
      expect(session?.status).toBe('closed');
      expect(session?.finalHash).toBeNull();
      expect(await dp.api.db.prisma.recordingChunk.count({ where: { sessionId: session!.id } })).toBe(0);
    } finally {
      await dp.api.db.prisma.connection.update({ where: { name: 'pg-test' }, data: { options: MASKING_OPT_IN } });
    }
  });

  it('refuses UPDATE, DELETE and TRUNCATE of recorded events in the database', async () => {
    const prisma = dp.api.db.prisma;
    const chunk = await prisma.recordingChunk.findFirstOrThrow();
    await expect(prisma.$executeRaw`UPDATE "RecordingChunk" SET events = '[]' WHERE id = ${chunk.id}`).rejects.toThrow(
      /immutable/,
    );
    await expect(prisma.$executeRaw`DELETE FROM "RecordingChunk" WHERE id = ${chunk.id}`).rejects.toThrow(/immutable/);
    await expect(prisma.$executeRawUnsafe('TRUNCATE "RecordingChunk" CASCADE')).rejects.toThrow(/immutable/);
    const session = await prisma.session.findFirstOrThrow({ where: { finalHash: { not: null } } });
    await expect(
      prisma.session.update({ where: { id: session.id }, data: { finalHash: 'f'.repeat(64) } }),
    ).rejects.toThrow(/seal/);
    expect(await prisma.recordingChunk.findUnique({ where: { id: chunk.id } })).toMatchObject({ events: chunk.events });
  });

  it('loses no event when the gateway is stopped with SIGTERM mid-session', async () => {
    const since = new Date();
    const c = new pg.Client({ connectionString: dp.url() });
    c.on('error', () => {});
    await c.connect();
    for (let i = 0; i < 200; i++) await c.query('SELECT $1::int AS i', [i]);
    const stopped = dp.gateway.stop(); // SIGTERM
    await stopped;
    await c.end().catch(() => {});
    const session = (await sessionsSince(since))[0]!;
    expect(session.status).toBe('interrupted');
    expect(session.finalHash).not.toBeNull();
    const events = await eventsOf(session.id);
    expect(events.filter((e) => e.kind === 'execute')).toHaveLength(200);
    expect(events.filter((e) => e.kind === 'result')).toHaveLength(200);
    expect(events.at(-1)!.kind).toBe('session.end');
    expect(expectIntactChain(events)).toBe(session.finalHash);
    await dp.startGateway();
    await dp.waitForAgent('online');
  }, 90_000);
});
