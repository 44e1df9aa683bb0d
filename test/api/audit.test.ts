import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
let adminId: string;
let startedAt: string;
let uma: Awaited<ReturnType<typeof createIdentity>>;

beforeAll(async () => {
  api = await startTestApi();
  adminId = (await api.request('GET', '/api/users/me')).body.id;
  startedAt = new Date().toISOString();
  await api.request('POST', '/api/groups', { body: { name: 'engineering' } });
  await api.request('POST', '/api/agents', { body: { name: 'default' } });
  await api.request('POST', '/api/connections', {
    body: {
      name: 'pg-prod',
      type: 'postgres',
      agent: 'default',
      config: { host: 'db', database: 'app', user: 'app', password: 'env:APP_DB_PASSWORD' },
      allowedGroups: ['engineering'],
    },
  });
  await api.request('PATCH', '/api/connections/pg-prod', { body: { description: 'primary' } });
  uma = await createIdentity(api, 'uma', { groups: ['engineering'] });
  await api.request('POST', '/api/api-keys', { token: uma.token, body: { name: 'laptop' } });
  await api.request('DELETE', '/api/agents/default');
});
afterAll(async () => {
  await api?.close();
});

const get = (query = '', token?: string) => api.request('GET', `/api/audit${query}`, token ? { token } : {});

describe('/api/audit', () => {
  it('lists every change newest first with actor, action, target, ip and user agent', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    const actions = res.body.items.map((e: any) => e.action);
    expect(actions).toEqual([
      'api_key.create',
      'api_key.create',
      'identity.create',
      'connection.update',
      'connection.create',
      'agent.create',
      'group.create',
      'admin.bootstrap',
    ]);
    expect(res.body.total).toBe(8);
    const [ownKey, umaKey, umaCreate, update] = res.body.items;
    expect(ownKey).toMatchObject({
      actor: { id: uma.id, name: 'uma' },
      target: { type: 'api_key', name: 'laptop' },
      details: { identity: 'uma' },
    });
    expect(umaKey).toMatchObject({ actor: { id: adminId, name: 'admin' }, details: { identity: 'uma' } });
    expect(umaCreate).toMatchObject({
      target: { type: 'identity', id: uma.id, name: 'uma' },
      details: { role: 'user', kind: 'user', groups: ['engineering'] },
    });
    expect(update).toMatchObject({
      actor: { id: adminId, name: 'admin' },
      target: { type: 'connection', name: 'pg-prod' },
      details: { description: 'primary' },
    });
    for (const entry of res.body.items.slice(0, -1)) {
      expect(entry.id).toMatch(/^\d+$/);
      expect(entry.ip).toMatch(/127\.0\.0\.1/);
      expect(entry.userAgent).toEqual(expect.any(String));
      expect(new Date(entry.at).getTime()).toBeGreaterThanOrEqual(new Date(startedAt).getTime() - 5);
    }
    const ids = res.body.items.map((e: any) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    expect(res.body.items.at(-1)).toMatchObject({ action: 'admin.bootstrap', actor: { id: null, name: 'system' } });
  });

  it('records only changes that happened', async () => {
    // DELETE /api/agents/default was refused (409: it serves pg-prod), so it left no entry.
    expect((await get('?action=agent.delete')).body).toEqual({ items: [], total: 0 });
  });

  it('filters by action, action prefix, target, actor and time', async () => {
    expect((await get('?action=connection.create')).body.items.map((e: any) => e.target.name)).toEqual(['pg-prod']);
    expect((await get('?action=connection.*')).body.items.map((e: any) => e.action)).toEqual([
      'connection.update',
      'connection.create',
    ]);
    const connectionId = (await api.request('GET', '/api/connections/pg-prod')).body.id;
    const byTarget = await get(`?targetType=connection&targetId=${connectionId}`);
    expect(byTarget.body.total).toBe(2);
    expect((await get('?targetType=identity')).body.items.map((e: any) => e.action)).toEqual([
      'identity.create',
      'admin.bootstrap',
    ]);
    expect((await get('?actor=uma')).body.items.map((e: any) => e.action)).toEqual(['api_key.create']);
    expect((await get(`?actor=${uma.id}`)).body.total).toBe(1);
    expect((await get('?actor=system')).body.items.map((e: any) => e.action)).toEqual(['admin.bootstrap']);
    expect((await get(`?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).body.total).toBe(0);
    expect((await get(`?until=${encodeURIComponent(startedAt)}`)).body.items.map((e: any) => e.action)).toEqual([
      'admin.bootstrap',
    ]);
    expect((await get(`?since=${encodeURIComponent(startedAt)}`)).body.total).toBe(7);
  });

  it('pages with limit and offset while total counts every match', async () => {
    const all = (await get()).body.items.map((e: any) => e.id);
    const first = await get('?limit=3');
    expect(first.body.items.map((e: any) => e.id)).toEqual(all.slice(0, 3));
    expect(first.body.total).toBe(all.length);
    const second = await get('?limit=3&offset=3');
    expect(second.body.items.map((e: any) => e.id)).toEqual(all.slice(3, 6));
  });

  it('validates filters and is closed to users', async () => {
    const bad = await get('?limit=0&since=yesterday&nope=1');
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: any) => d.field).sort()).toEqual([
      'querystring.limit',
      'querystring.nope',
      'querystring.since',
    ]);
    expect((await get('', uma.token)).status).toBe(403);
  });
});
