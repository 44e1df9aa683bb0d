import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../support/api.js';
import { startDataPath, type DataPath } from '../support/data-path.js';

// Every catalog type is emitted from where its fact happens, with data the catalog accepts:
// sessions and masked counts (gateway process), reviews (API access request → deny), identity
// block/unblock (containment), recording reads and admin changes (audit log), agent streams
// (gateway process, agent stopped at the end).

let dp: DataPath;
const EMAILS = ['ada.lovelace@example.com', 'grace@navy.example.org'];

async function eventsOf(type: string): Promise<any[]> {
  const res = await dp.api.request('GET', `/api/events?types=${type}&limit=100`);
  expect(res.status).toBe(200);
  return res.body.events;
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

beforeAll(async () => {
  dp = await startDataPath();
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query('CREATE TABLE customers (id int, email text)');
  await direct.query('INSERT INTO customers VALUES (1, $1), (2, $2)', EMAILS);
  await direct.end();
  const masking = await dp.api.request('POST', '/api/policies', {
    body: {
      name: 'mask-emails',
      kind: 'masking',
      connections: ['pg-test'],
      rules: { masking: { detectors: [{ detector: 'email', strategy: 'redact' }] } },
    },
  });
  expect(masking.status).toBe(201);
}, 180_000);

afterAll(async () => {
  await dp?.close();
});

describe('the event catalog, type by type', () => {
  let sessionId: string;

  it('session.started, data.masked and session.ended from a psql session with masked cells', async () => {
    const out = await dp.psql(['-A', '-c', 'SELECT * FROM customers ORDER BY id']);
    expect(out.stderr).toBe('');
    for (const email of EMAILS) expect(out.stdout).not.toContain(email);
    const masked = await until('data.masked', async () => (await eventsOf('data.masked'))[0]);
    expect(masked).toMatchObject({ connection: { name: 'pg-test' }, identity: { name: 'admin' } });
    expect(masked.data.total).toBe(2);
    expect(Object.values(masked.data.cells).reduce((a: number, b) => a + (b as number), 0)).toBe(2);
    sessionId = masked.session.id;
    const [started] = await eventsOf('session.started');
    expect(started).toMatchObject({ session: { id: sessionId }, data: { protocol: 'postgres', clientTls: false } });
    const ended = await until('session.ended', async () => (await eventsOf('session.ended'))[0]);
    expect(ended).toMatchObject({ session: { id: sessionId }, data: { maskedCells: 2, status: 'closed' } });
    expect(JSON.stringify([masked, started, ended])).not.toMatch(/example\.(com|org)/);
  });

  it('review.requested and review.denied from an access request decided through the API', async () => {
    await dp.api.request('POST', '/api/groups', { body: { name: 'dba' } });
    await dp.api.request('POST', '/api/groups', { body: { name: 'eng' } });
    const bob = await createIdentity(dp.api, 'bob', { groups: ['dba'] });
    const erin = await createIdentity(dp.api, 'erin', { groups: ['eng'] });
    const allowed = await dp.api.request('PATCH', '/api/connections/pg-test', { body: { allowedGroups: ['eng'] } });
    expect(allowed.status).toBe(200);
    const policy = await dp.api.request('POST', '/api/policies', {
      body: {
        name: 'jit',
        kind: 'review',
        connections: ['pg-test'],
        rules: { reviews: [{ type: 'access_review', name: 'jit', approverGroups: ['dba'], maxDurationSeconds: 3600 }] },
      },
    });
    expect(policy.status).toBe(201);
    const asked = await dp.api.request('POST', '/api/access-requests', {
      token: erin.token,
      body: { connection: 'pg-test', durationSeconds: 600, justification: 'incident 12' },
    });
    expect(asked.status).toBe(201);
    const denied = await dp.api.request('POST', `/api/reviews/${asked.body.id}/deny`, {
      token: bob.token,
      body: { comment: 'not now' },
    });
    expect(denied.status).toBe(200);
    const requested = await until('review.requested', async () => (await eventsOf('review.requested'))[0]);
    expect(requested).toMatchObject({
      identity: { name: 'erin' },
      connection: { name: 'pg-test' },
      data: { reviewId: asked.body.id, kind: 'access', rule: 'jit', approverGroups: ['dba'], accessSeconds: 600 },
    });
    const deniedEvent = await until('review.denied', async () => (await eventsOf('review.denied'))[0]);
    expect(deniedEvent.data).toMatchObject({ reviewId: asked.body.id, by: { name: 'bob' }, comment: 'not now' });

    const blocked = await dp.api.request('POST', '/api/identities/erin/block', { body: { reason: 'test' } });
    expect(blocked.status).toBe(200);
    const [blockEvent] = await eventsOf('identity.blocked');
    expect(blockEvent).toMatchObject({ identity: { name: 'erin' }, data: { reason: 'test', by: { name: 'admin' } } });
    expect((await dp.api.request('POST', '/api/identities/erin/unblock')).status).toBe(200);
    expect((await eventsOf('identity.unblocked'))[0]).toMatchObject({ identity: { name: 'erin' } });
  });

  it('recording.read for a read of the session, admin.change for changes', async () => {
    expect((await dp.api.request('GET', `/api/sessions/${sessionId}`)).status).toBe(200);
    const [read] = await eventsOf('recording.read');
    expect(read).toMatchObject({
      identity: { name: 'admin' },
      session: { id: sessionId },
      data: { action: 'session.read', by: { name: 'admin' } },
    });
    const changes = await eventsOf('admin.change');
    const created = changes.find((e) => e.data.action === 'policy.create' && e.data.target.name === 'mask-emails');
    expect(created).toMatchObject({ identity: { name: 'admin' }, data: { target: { type: 'policy' } } });
    // The API key creation is an admin change; the key itself is not in it.
    const keyEvents = changes.filter((e) => e.data.action.startsWith('apikey') || e.data.target.type === 'api-key');
    expect(JSON.stringify(keyEvents)).not.toMatch(/wdn_/);
  });

  it('agent.connected and agent.disconnected from the gateway', async () => {
    const [connected] = await eventsOf('agent.connected');
    expect(connected.data).toMatchObject({ agent: { name: 'edge' }, version: '0.1.0' });
    await dp.agent.stop();
    const gone = await until('agent.disconnected', async () => (await eventsOf('agent.disconnected'))[0]);
    expect(gone.data).toMatchObject({ agent: { name: 'edge' }, remainingConnections: 0 });
  });

  it('nothing failed to emit', () => {
    const logs = dp.api.logs.join('') + dp.gateway.output();
    expect(logs).not.toContain('could not emit an event');
  });
});
