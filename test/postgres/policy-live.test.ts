import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';

// A policy changed through the API reaches sessions that are already open (over Redis, as between
// separate API and gateway processes): a guardrail added during an incident refuses the next
// statement of a live session; a change the session cannot take in place ends it with 57P01.
let dp: DataPath;

beforeAll(async () => {
  dp = await startDataPath({ redisPrefix: `warden-test-${randomBytes(4).toString('hex')}` });
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query('CREATE TABLE orders (id int PRIMARY KEY, email text)');
  await direct.query("INSERT INTO orders SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 20) g");
  await direct.end();
  const policies = [
    {
      name: 'no-deletes',
      kind: 'guardrail',
      rules: { guardrails: [{ type: 'deny_kinds', name: 'no-deletes', kinds: ['delete'] }] },
    },
    {
      name: 'mask-emails',
      kind: 'masking',
      rules: { masking: { columns: [], detectors: [{ detector: 'email', strategy: 'redact' }] } },
    },
    {
      name: 'no-truncate',
      kind: 'guardrail',
      rules: { guardrails: [{ type: 'deny_kinds', name: 'no-truncate', kinds: ['truncate'] }] },
    },
  ];
  for (const body of policies) {
    const created = await dp.api.request('POST', '/api/policies', { body });
    expect(created.status, created.text).toBe(201);
  }
  await attach(['no-truncate']);
}, 120_000);

afterAll(async () => {
  await dp?.close();
});

async function attach(policies: string[]) {
  const res = await dp.api.request('PATCH', '/api/connections/pg-test', { body: { policies } });
  expect(res.status, res.text).toBe(200);
}

async function connect(): Promise<{ client: pg.Client; errors: Error[] }> {
  const client = new pg.Client({ connectionString: dp.url() });
  const errors: Error[] = [];
  client.on('error', (err) => errors.push(err));
  await client.connect();
  return { client, errors };
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Resolves with the error that ended the session: node-postgres reports the server's FATAL on the
 * query in flight, or on its 'error' event when idle; keep querying until one carries a SQLSTATE.
 */
async function sessionEnd(client: pg.Client, errors: Error[]): Promise<{ code?: string; message: string }> {
  return eventually(async () => {
    await client.query('SELECT 1').catch((e: Error) => errors.push(e));
    return errors.find((e) => (e as { code?: string }).code) as { code?: string; message: string } | undefined;
  });
}

describe('policy changes reach live sessions', () => {
  it('a guardrail attached while a session is open refuses its next DELETE with 42501', async () => {
    const { client } = await connect();
    try {
      await client.query('BEGIN');
      await client.query('DELETE FROM orders WHERE id = 1');
      await client.query('ROLLBACK');
      await attach(['no-truncate', 'no-deletes']);
      // The change travels API → Redis → gateway; the same session, no reconnect. Each probe runs
      // in a transaction it rolls back, so a probe that slips through before the change arrives
      // deletes nothing.
      const refused = await eventually(async () => {
        await client.query('BEGIN');
        const outcome = await client.query('DELETE FROM orders WHERE id = 2').then(
          () => undefined,
          (e: { code?: string; message: string }) => e,
        );
        await client.query('ROLLBACK');
        return outcome;
      });
      expect(refused.code).toBe('42501');
      expect(refused.message).toContain('no-deletes');
      const { rows } = await client.query('SELECT count(*)::int AS n FROM orders');
      expect(rows[0].n).toBe(20);
      // Detaching it lets the next DELETE through again, still in the same session.
      await attach(['no-truncate']);
      await eventually(async () => {
        const ok = await client.query('BEGIN; DELETE FROM orders WHERE id = 3; ROLLBACK').then(
          () => true,
          () => undefined,
        );
        return ok;
      });
    } finally {
      await client.end().catch(() => {});
      await attach(['no-truncate']);
    }
  });

  it('a masking change ends the live session with 57P01; the next session sees masked values', async () => {
    const { client, errors } = await connect();
    const { rows } = await client.query('SELECT email FROM orders WHERE id = 5');
    expect(rows[0].email).toBe('user5@example.com');
    await attach(['no-truncate', 'mask-emails']);
    try {
      const ended = await sessionEnd(client, errors);
      expect(ended.code).toBe('57P01');
      expect(ended.message).toMatch(/policies changed/);
      const next = await connect();
      const masked = await next.client.query('SELECT email FROM orders WHERE id = 5');
      expect(masked.rows[0].email).not.toBe('user5@example.com');
      await next.client.end();
    } finally {
      await client.end().catch(() => {});
      await attach(['no-truncate']);
    }
  });

  it('a session holding named prepared statements is ended rather than left judged by the old policy', async () => {
    const { client, errors } = await connect();
    await client.query({ name: 'by-id', text: 'SELECT id FROM orders WHERE id = $1', values: [1] });
    await attach(['no-truncate', 'no-deletes']);
    try {
      const ended = await sessionEnd(client, errors);
      expect(ended.code).toBe('57P01');
      expect(ended.message).toMatch(/policies changed/);
    } finally {
      await client.end().catch(() => {});
      await attach(['no-truncate']);
    }
  });
});
