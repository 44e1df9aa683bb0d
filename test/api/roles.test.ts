import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
let auditor: Awaited<ReturnType<typeof createIdentity>>;
let engineer: Awaited<ReturnType<typeof createIdentity>>;
let loner: Awaited<ReturnType<typeof createIdentity>>;
const ids: Record<string, string> = {};

beforeAll(async () => {
  api = await startTestApi();
  await createAgent(api, 'default');
  for (const name of ['engineering', 'finance']) await api.request('POST', '/api/groups', { body: { name } });
  const connections = [
    { name: 'pg-eng', allowedGroups: ['engineering'] },
    { name: 'pg-fin', allowedGroups: ['finance'] },
    { name: 'pg-admins', allowedGroups: [] },
    { name: 'pg-both', allowedGroups: ['finance', 'engineering'] },
  ];
  for (const c of connections) {
    const res = await api.request('POST', '/api/connections', {
      body: { ...c, type: 'postgres', agent: 'default', config: { host: 'db', database: 'app', user: 'app' } },
    });
    ids[c.name] = res.body.id;
  }
  auditor = await createIdentity(api, 'audrey', { role: 'auditor' });
  engineer = await createIdentity(api, 'uma', { groups: ['engineering'] });
  loner = await createIdentity(api, 'lonely-bot', { kind: 'service' });
});
afterAll(async () => {
  await api?.close();
});

const names = (body: any) => body.map((x: { name: string }) => x.name).sort();

/** Every write route, with a body that would be valid for an admin. */
function writes(): [string, string, unknown?][] {
  return [
    ['POST', '/api/connections', { name: 'x', type: 'http', agent: 'default', config: { url: 'http://x' } }],
    ['POST', '/api/connections', { name: 'incomplete' }],
    ['PATCH', '/api/connections/pg-eng', { description: 'mine now' }],
    ['DELETE', '/api/connections/pg-eng'],
    ['POST', '/api/agents', { name: 'rogue' }],
    ['PATCH', '/api/agents/default', { description: 'x' }],
    ['DELETE', '/api/agents/default'],
    ['POST', '/api/agents/default/rotate-key'],
    ['POST', '/api/agents/default/revoke'],
    ['POST', '/api/users', { name: 'sneaky', role: 'admin' }],
    ['PATCH', '/api/users/uma', { role: 'admin' }],
    ['PATCH', '/api/users/audrey', { role: 'admin' }],
    ['DELETE', '/api/users/admin'],
  ];
}

describe('authentication', () => {
  it('answers 401 for missing, malformed and unknown tokens on every resource', async () => {
    for (const path of [
      '/api/connections',
      '/api/agents',
      '/api/users',
      '/api/users/me',
      '/api/api-keys',
      '/api/audit',
    ]) {
      for (const token of [null, 'wdn_forged', '']) {
        const res = await api.request('GET', path, { token });
        expect(res.status, `${path} with ${token}`).toBe(401);
        expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      }
    }
    const res = await fetch(`${api.baseUrl}/api/connections`, { headers: { authorization: `Basic ${api.adminKey}` } });
    expect(res.status).toBe(401);
  });

  it('answers 413 for a body over 1 MiB', async () => {
    const res = await api.request('POST', '/api/connections', {
      body: {
        name: 'huge',
        type: 'http',
        agent: 'default',
        config: { url: 'http://x' },
        options: { blob: 'x'.repeat(1024 * 1024 + 10) },
      },
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    expect((await api.request('GET', '/api/connections/huge')).status).toBe(404);
  });
});

describe('auditor', () => {
  it('reads everything', async () => {
    const token = auditor.token;
    const conns = await api.request('GET', '/api/connections', { token });
    expect(conns.status).toBe(200);
    expect(names(conns.body)).toEqual(['pg-admins', 'pg-both', 'pg-eng', 'pg-fin']);
    expect((await api.request('GET', '/api/connections/pg-admins', { token })).status).toBe(200);
    expect((await api.request('GET', '/api/agents', { token })).body.map((a: any) => a.name)).toEqual(['default']);
    expect((await api.request('GET', '/api/agents/default', { token })).status).toBe(200);
    expect(names((await api.request('GET', '/api/users', { token })).body)).toEqual([
      'admin',
      'audrey',
      'lonely-bot',
      'uma',
    ]);
    expect((await api.request('GET', '/api/users/uma', { token })).body.groups[0].name).toBe('engineering');
    expect((await api.request('GET', '/api/users/me', { token })).body.role).toBe('auditor');
    expect((await api.request('GET', '/api/api-keys', { token })).status).toBe(200);
    expect((await api.request('GET', '/api/audit', { token })).status).toBe(200);
    expect((await api.request('GET', '/api/groups', { token })).status).toBe(200);
  });

  it('never writes (403), and nothing changes', async () => {
    const before = await api.db.prisma.auditEntry.count();
    for (const [method, path, body] of writes()) {
      const res = await api.request(method, path, { token: auditor.token, body });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    expect(await api.db.prisma.auditEntry.count()).toBe(before);
    expect(await api.db.prisma.agent.count({ where: { revokedAt: null } })).toBe(1);
    expect((await api.request('GET', '/api/users/audrey')).body.role).toBe('auditor');
  });
});

describe('user', () => {
  it('sees only the connections its groups allow; others are 404', async () => {
    const token = engineer.token;
    const list = await api.request('GET', '/api/connections', { token });
    expect(list.status).toBe(200);
    expect(names(list.body)).toEqual(['pg-both', 'pg-eng']);
    expect((await api.request('GET', '/api/connections/pg-eng', { token })).body.id).toBe(ids['pg-eng']);
    expect((await api.request('GET', `/api/connections/${ids['pg-both']}`, { token })).status).toBe(200);
    for (const ref of ['pg-fin', 'pg-admins', ids['pg-fin']]) {
      const res = await api.request('GET', `/api/connections/${ref}`, { token });
      // Exactly what an unknown reference gets: nothing confirms the connection exists.
      expect(res.body, ref).toEqual({ statusCode: 404, error: 'Not Found', message: `connection "${ref}" not found` });
    }
    expect((await api.request('GET', '/api/connections', { token: loner.token })).body).toEqual([]);
  });

  it('reads itself, manages its own keys and gets 403 for everything else', async () => {
    const token = engineer.token;
    expect((await api.request('GET', '/api/users/me', { token })).body.name).toBe('uma');
    for (const path of ['/api/agents', '/api/agents/default', '/api/users', '/api/users/uma', '/api/audit']) {
      expect((await api.request('GET', path, { token })).status, path).toBe(403);
    }
    for (const [method, path, body] of writes()) {
      expect((await api.request(method, path, { token, body })).status, `${method} ${path}`).toBe(403);
    }
    const key = await api.request('POST', '/api/api-keys', { token, body: { name: 'own' } });
    expect(key.status).toBe(201);
    expect((await api.request('DELETE', `/api/api-keys/${key.body.apiKey.id}`, { token })).status).toBe(204);
  });
});

describe('admin', () => {
  it('uses every route, including connections no group allows', async () => {
    expect(names((await api.request('GET', '/api/connections')).body)).toHaveLength(4);
    expect((await api.request('GET', '/api/connections/pg-admins')).status).toBe(200);
    expect((await api.request('PATCH', '/api/users/uma', { body: { displayName: 'Uma' } })).status).toBe(200);
  });
});
