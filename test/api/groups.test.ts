import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

describe('/api/groups', () => {
  it('creates, reads by id and by name, updates and deletes a group', async () => {
    const created = await api.request('POST', '/api/groups', { body: { name: 'engineering', description: 'eng' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'engineering', description: 'eng', members: [] });
    expect((await api.request('GET', `/api/groups/${created.body.id}`)).body.name).toBe('engineering');
    expect((await api.request('GET', '/api/groups/engineering')).body.id).toBe(created.body.id);
    const patched = await api.request('PATCH', '/api/groups/engineering', { body: { description: 'Engineers' } });
    expect(patched.body.description).toBe('Engineers');
    expect((await api.request('GET', '/api/groups')).body.map((g: { name: string }) => g.name)).toContain(
      'engineering',
    );
    expect((await api.request('DELETE', '/api/groups/engineering')).status).toBe(204);
    expect((await api.request('GET', '/api/groups/engineering')).status).toBe(404);
  });

  it('adds and removes members', async () => {
    await api.request('POST', '/api/groups', { body: { name: 'dba' } });
    const added = await api.request('PUT', '/api/groups/dba/members/admin');
    expect(added.status).toBe(200);
    expect(added.body.members).toEqual([expect.objectContaining({ name: 'admin', source: 'manual' })]);
    const removed = await api.request('DELETE', '/api/groups/dba/members/admin');
    expect(removed.body.members).toEqual([]);
    expect((await api.request('DELETE', '/api/groups/dba/members/admin')).status).toBe(404);
    expect((await api.request('PUT', '/api/groups/dba/members/nobody')).status).toBe(404);
  });

  it('rejects invalid bodies with the failing fields', async () => {
    const res = await api.request('POST', '/api/groups', { body: { name: 'bad name!', extra: 1 } });
    expect(res.status).toBe(400);
    const fields = res.body.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['body.name', 'body.extra']));
    expect((await api.request('POST', '/api/groups', { raw: '{not json' })).status).toBe(400);
  });

  it('turns concurrent creates of one name into one row and 409s', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, () => api.request('POST', '/api/groups', { body: { name: 'race' } })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    expect(await api.db.prisma.group.count({ where: { name: 'race' } })).toBe(1);
  });

  it('requires a valid bearer token', async () => {
    expect((await api.request('GET', '/api/groups', { token: null })).status).toBe(401);
    expect((await api.request('GET', '/api/groups', { token: 'wdn_forged' })).status).toBe(401);
  });
});
