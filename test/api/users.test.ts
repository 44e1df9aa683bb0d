import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
  await api.request('POST', '/api/groups', { body: { name: 'engineering' } });
  await api.request('POST', '/api/groups', { body: { name: 'dba' } });
  await api.request('POST', '/api/groups', { body: { name: 'sso-only' } });
});
afterAll(async () => {
  await api?.close();
});

const fields = (res: { body: any }) => (res.body.details ?? []).map((d: { field: string }) => d.field).sort();

describe('/api/users', () => {
  it('creates a person with defaults and a service account with groups', async () => {
    const person = await api.request('POST', '/api/users', { body: { name: 'alice', email: 'alice@example.com' } });
    expect(person.status).toBe(201);
    expect(person.body).toMatchObject({
      name: 'alice',
      kind: 'user',
      role: 'user',
      status: 'active',
      email: 'alice@example.com',
      displayName: null,
      groups: [],
    });

    const bot = await api.request('POST', '/api/users', {
      body: {
        name: 'autogen-bot',
        kind: 'service',
        role: 'user',
        displayName: 'AutoGen',
        groups: ['engineering', 'dba'],
      },
    });
    expect(bot.status).toBe(201);
    expect(bot.body).toMatchObject({ kind: 'service', displayName: 'AutoGen' });
    expect(bot.body.groups.map((g: any) => [g.name, g.source])).toEqual([
      ['dba', 'manual'],
      ['engineering', 'manual'],
    ]);

    const byName = await api.request('GET', '/api/users/autogen-bot');
    expect(byName.body).toEqual(bot.body);
    expect((await api.request('GET', `/api/users/${bot.body.id}`)).body.name).toBe('autogen-bot');
  });

  it('filters the list by kind, role and status', async () => {
    await api.request('POST', '/api/users', { body: { name: 'audrey', role: 'auditor' } });
    await api.request('POST', '/api/users', { body: { name: 'ci', kind: 'service' } });
    await api.request('POST', '/api/users', { body: { name: 'dormant' } });
    await api.request('PATCH', '/api/users/dormant', { body: { status: 'disabled' } });

    const names = async (query: string) =>
      (await api.request('GET', `/api/users${query}`)).body.map((u: { name: string }) => u.name);
    expect(await names('')).toEqual(expect.arrayContaining(['admin', 'audrey', 'ci', 'dormant']));
    expect(await names('?kind=service')).toEqual(expect.arrayContaining(['ci']));
    expect(await names('?kind=service')).not.toContain('audrey');
    expect(await names('?role=auditor')).toEqual(['audrey']);
    expect(await names('?role=admin')).toEqual(['admin']);
    expect(await names('?status=disabled')).toEqual(['dormant']);
    expect(await names('?kind=service&status=disabled')).toEqual([]);
    const bad = await api.request('GET', '/api/users?role=root');
    expect(bad.status).toBe(400);
    expect(fields(bad)).toEqual(['querystring.role']);
  });

  it('returns the caller at /me for every role', async () => {
    const me = await api.request('GET', '/api/users/me');
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ name: 'admin', role: 'admin' });
    const bob = await createIdentity(api, 'bob', { groups: ['engineering'] });
    const bobMe = await api.request('GET', '/api/users/me', { token: bob.token });
    expect(bobMe.status).toBe(200);
    expect(bobMe.body).toMatchObject({ id: bob.id, name: 'bob', role: 'user', groups: [{ name: 'engineering' }] });
    const reserved = await api.request('POST', '/api/users', { body: { name: 'me' } });
    expect(reserved.status).toBe(400);
    expect(fields(reserved)).toEqual(['body.name']);
  });

  it('patches role, status, contact fields and replaces manual memberships only', async () => {
    const carol = await createIdentity(api, 'carol', { groups: ['engineering'] });
    const sso = await api.db.prisma.group.findUniqueOrThrow({ where: { name: 'sso-only' } });
    await api.db.prisma.groupMembership.create({ data: { identityId: carol.id, groupId: sso.id, source: 'oidc' } });

    const patched = await api.request('PATCH', '/api/users/carol', {
      body: { role: 'auditor', email: 'carol@example.com', displayName: 'Carol', groups: ['dba'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ role: 'auditor', email: 'carol@example.com', displayName: 'Carol' });
    expect(patched.body.groups.map((g: any) => [g.name, g.source])).toEqual([
      ['dba', 'manual'],
      ['sso-only', 'oidc'],
    ]);
    const cleared = await api.request('PATCH', '/api/users/carol', { body: { email: null, groups: [] } });
    expect(cleared.body.email).toBeNull();
    expect(cleared.body.groups.map((g: any) => g.name)).toEqual(['sso-only']);

    // A disabled identity's keys stop working; enabling it again restores them.
    expect((await api.request('GET', '/api/users/me', { token: carol.token })).status).toBe(200);
    expect((await api.request('PATCH', '/api/users/carol', { body: { status: 'disabled' } })).body.status).toBe(
      'disabled',
    );
    expect((await api.request('GET', '/api/users/me', { token: carol.token })).status).toBe(401);
    await api.request('PATCH', '/api/users/carol', { body: { status: 'active' } });
    expect((await api.request('GET', '/api/users/me', { token: carol.token })).status).toBe(200);
  });

  it('validates bodies with the failing fields', async () => {
    const bad = await api.request('POST', '/api/users', {
      body: { name: 'x y', kind: 'robot', role: 'root', email: 'not-an-email', extra: 1 },
    });
    expect(bad.status).toBe(400);
    expect(fields(bad)).toEqual(['body.email', 'body.extra', 'body.kind', 'body.name', 'body.role']);

    const groups = await api.request('POST', '/api/users', {
      body: { name: 'dave', groups: ['engineering', 'ghosts'] },
    });
    expect(groups.status).toBe(400);
    expect(fields(groups)).toEqual(['body.groups']);
    expect(groups.body.details[0].message).toContain('ghosts');
    expect(await api.db.prisma.identity.count({ where: { name: 'dave' } })).toBe(0);

    const blocked = await api.request('PATCH', '/api/users/alice', { body: { status: 'blocked' } });
    expect(blocked.status).toBe(400);
    expect(fields(blocked)).toEqual(['body.status']);
    const rename = await api.request('PATCH', '/api/users/alice', { body: { name: 'alicia' } });
    expect(rename.status).toBe(400);
    expect((await api.request('PATCH', '/api/users/alice', { body: { groups: ['ghosts'] } })).status).toBe(400);
  });

  it('answers 404 for unknown identities', async () => {
    expect((await api.request('GET', '/api/users/nobody')).status).toBe(404);
    expect((await api.request('GET', '/api/users/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await api.request('PATCH', '/api/users/nobody', { body: { role: 'user' } })).status).toBe(404);
    expect((await api.request('DELETE', '/api/users/nobody')).status).toBe(404);
  });

  it('never removes, demotes or disables the last active admin', async () => {
    for (const body of [{ role: 'user' }, { role: 'auditor' }, { status: 'disabled' }]) {
      const res = await api.request('PATCH', '/api/users/admin', { body });
      expect(res.status, JSON.stringify(body)).toBe(409);
    }
    expect((await api.request('DELETE', '/api/users/admin')).status).toBe(409);
    expect((await api.request('GET', '/api/users/admin')).body).toMatchObject({ role: 'admin', status: 'active' });

    // Eight admins all disabling themselves at once: exactly one must remain. Each acts on
    // itself, so no request's authentication depends on another's outcome.
    const others = [];
    for (let i = 0; i < 7; i++) others.push(await createIdentity(api, `root${i}`, { role: 'admin' }));
    const admins = [{ name: 'admin', token: api.adminKey }, ...others];
    const results = await Promise.all(
      admins.map((a) => api.request('PATCH', `/api/users/${a.name}`, { token: a.token, body: { status: 'disabled' } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 409]);
    expect(await api.db.prisma.identity.count({ where: { role: 'admin', status: 'active' } })).toBe(1);

    // Restore: the remaining admin re-enables the bootstrap admin, which removes the others.
    const survivor = admins[results.findIndex((r) => r.status === 409)]!;
    const restore = await api.request('PATCH', '/api/users/admin', {
      token: survivor.token,
      body: { status: 'active' },
    });
    expect(restore.status).toBe(200);
    for (const other of others) expect((await api.request('DELETE', `/api/users/${other.name}`)).status).toBe(204);
    expect(await api.db.prisma.identity.count({ where: { role: 'admin', status: 'active' } })).toBe(1);
    expect((await api.request('GET', '/api/users/me', { token: others[0]!.token })).status).toBe(401);
  });

  it('deletes identities without activity, refuses those with recorded sessions', async () => {
    const eve = await createIdentity(api, 'eve');
    expect((await api.request('DELETE', `/api/users/${eve.id}`)).status).toBe(204);
    expect((await api.request('GET', '/api/users/eve')).status).toBe(404);
    expect(await api.db.prisma.apiKey.count({ where: { identityId: eve.id } })).toBe(0);

    const frank = await createIdentity(api, 'frank');
    await createAgent(api, 'default');
    const conn = await api.request('POST', '/api/connections', {
      body: { name: 'pg', type: 'postgres', agent: 'default', config: { host: 'db', database: 'a', user: 'a' } },
    });
    await api.db.prisma.session.create({
      data: { identityId: frank.id, connectionId: conn.body.id, protocol: 'postgres', status: 'closed' },
    });
    const refused = await api.request('DELETE', '/api/users/frank');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/disable/);
    expect((await api.request('GET', '/api/users/frank')).status).toBe(200);
  });

  it('turns duplicates and concurrent creates of one name into one row and 409s', async () => {
    expect((await api.request('POST', '/api/users', { body: { name: 'alice' } })).status).toBe(409);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        api.request('POST', '/api/users', { body: { name: 'twin', groups: ['engineering'] } }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    expect(await api.db.prisma.identity.count({ where: { name: 'twin' } })).toBe(1);
  });
});
