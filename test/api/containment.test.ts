// Containment through the API: block/unblock identities, kill sessions, revoke agents. The API
// publishes on Redis; `gatewayBus` listens like a gateway replica would.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisControlBus, type Topic, type TopicMessages } from '@warden/control-bus';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `warden-test:${randomBytes(6).toString('hex')}:`;

let api: TestApi;
let apiBus: RedisControlBus;
let gatewayBus: RedisControlBus;
let agent: Awaited<ReturnType<typeof createAgent>>;
let connectionId: string;

beforeAll(async () => {
  apiBus = new RedisControlBus({ url: REDIS_URL, prefix });
  gatewayBus = new RedisControlBus({ url: REDIS_URL, prefix });
  await Promise.all([apiBus.ready(), gatewayBus.ready()]);
  api = await startTestApi({ bus: apiBus });
  agent = await createAgent(api, 'edge');
  const conn = await api.request('POST', '/api/connections', {
    body: { name: 'pg', type: 'postgres', agent: 'edge', config: { host: '10.0.0.5', database: 'app', user: 'app' } },
  });
  connectionId = conn.body.id;
});
afterAll(async () => {
  await api?.close();
  await Promise.all([apiBus?.close(), gatewayBus?.close()]);
});

function heard<T extends Topic>(topic: T) {
  return new Promise<TopicMessages[T]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${topic} message`)), 3000);
    const off = gatewayBus.subscribe(topic, (m) => {
      clearTimeout(timer);
      off();
      resolve(m);
    });
  });
}

describe('blocking an identity', () => {
  it('its API key gets 401 at once, every replica hears of it, and its pending reviews are cancelled', async () => {
    const mallory = await createIdentity(api, 'mallory', { groups: [] });
    expect((await api.request('GET', '/api/users/me', { token: mallory.token })).status).toBe(200);
    const pending = await api.db.prisma.review.create({
      data: {
        kind: 'statement',
        requesterId: mallory.id,
        connectionId,
        statement: 'DELETE FROM t',
        expiresAt: new Date(Date.now() + 60_000),
      },
    });
    const blocked = heard('identity.blocked');
    const res = await api.request('POST', '/api/identities/mallory/block', { body: { reason: 'phished key' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      name: 'mallory',
      status: 'blocked',
      blockedReason: 'phished key',
      cancelledReviews: 1,
    });
    expect(await blocked).toEqual({ identityId: mallory.id, reason: 'phished key' });
    const refused = await api.request('GET', '/api/users/me', { token: mallory.token });
    expect(refused.status).toBe(401);
    expect(refused.body.message).toBe('the identity is blocked');
    expect((await api.db.prisma.review.findUniqueOrThrow({ where: { id: pending.id } })).status).toBe('cancelled');
    const audit = await api.request('GET', `/api/audit?action=identity.block&targetId=${mallory.id}`);
    expect(audit.body.items[0].details).toMatchObject({ reason: 'phished key', previousStatus: 'active' });

    const unblocked = await api.request('POST', `/api/identities/${mallory.id}/unblock`);
    expect(unblocked.body).toMatchObject({ status: 'active', blockedReason: null });
    expect((await api.request('GET', '/api/users/me', { token: mallory.token })).status).toBe(200);
    expect((await api.request('GET', `/api/audit?action=identity.unblock&targetId=${mallory.id}`)).body.total).toBe(1);
  });

  it('only admins block; nobody blocks themselves or the last active admin; unknown identities are 404', async () => {
    const user = await createIdentity(api, 'plain', { groups: [] });
    expect(
      (await api.request('POST', '/api/identities/mallory/block', { token: user.token, body: { reason: 'x' } })).status,
    ).toBe(403);
    const self = await api.request('POST', '/api/identities/admin/block', { body: { reason: 'x' } });
    expect(self.status).toBe(409);
    const other = await createIdentity(api, 'second-admin', { role: 'admin' });
    const last = await api.request('POST', '/api/identities/admin/block', {
      token: other.token,
      body: { reason: 'x' },
    });
    expect(last.status).toBe(200); // another active admin remains: second-admin
    const back = await api.request('POST', '/api/identities/admin/unblock', { token: other.token });
    expect(back.status).toBe(200);
    expect((await api.request('POST', '/api/identities/nobody/block', { body: { reason: 'x' } })).status).toBe(404);
    expect((await api.request('POST', '/api/identities/plain/block', { body: {} })).status).toBe(400);
    const disabled = await createIdentity(api, 'gone', { groups: [] });
    await api.request('PATCH', '/api/users/gone', { body: { status: 'disabled' } });
    expect((await api.request('POST', `/api/identities/${disabled.id}/unblock`)).status).toBe(409);
  });
});

describe('killing a session', () => {
  async function session(status: 'active' | 'closed') {
    const identity = await api.db.prisma.identity.findFirstOrThrow({ where: { name: 'admin' } });
    return api.db.prisma.session.create({
      data: { identityId: identity.id, connectionId, protocol: 'postgres', status },
    });
  }

  it('publishes session.kill for the replica holding it, and audits', async () => {
    const live = await session('active');
    const kill = heard('session.kill');
    const res = await api.request('POST', `/api/sessions/${live.id}/kill`, { body: { reason: 'incident 9' } });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: live.id, status: 'active', reason: 'incident 9' });
    expect(await kill).toEqual({
      sessionId: live.id,
      reason: 'incident 9',
      by: { id: expect.any(String), name: 'admin' },
    });
    const audit = await api.request('GET', `/api/audit?action=session.kill&targetId=${live.id}`);
    expect(audit.body.items[0].details).toMatchObject({ reason: 'incident 9', connection: 'pg' });
  });

  it('404 for an unknown session, 409 for one that already ended, 403 for non-admins', async () => {
    expect(
      (await api.request('POST', '/api/sessions/00000000-0000-0000-0000-000000000000/kill', { body: {} })).status,
    ).toBe(404);
    expect((await api.request('POST', '/api/sessions/not-a-uuid/kill', { body: {} })).status).toBe(404);
    const ended = await session('closed');
    const res = await api.request('POST', `/api/sessions/${ended.id}/kill`, { body: {} });
    expect(res.status).toBe(409);
    expect(res.body.message).toMatch(/already ended \(closed\)/);
    const user = await createIdentity(api, 'killer', { groups: [] });
    const live = await session('active');
    expect((await api.request('POST', `/api/sessions/${live.id}/kill`, { token: user.token, body: {} })).status).toBe(
      403,
    );
  });
});

describe('revoking an agent', () => {
  it('publishes agent.revoked so gateways drop its streams', async () => {
    const revoked = heard('agent.revoked');
    const res = await api.request('POST', '/api/agents/edge/revoke');
    expect(res.status).toBe(200);
    expect(await revoked).toEqual({ agentId: agent.id });
  });
});
