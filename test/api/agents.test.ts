import { hashToken } from '@warden/access';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

describe('/api/agents', () => {
  it('registers an agent and shows its key once, storing only the hash', async () => {
    const created = await api.request('POST', '/api/agents', { body: { name: 'default', description: 'dc1' } });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^wda_[A-Za-z0-9_-]{43}$/);
    expect(created.body.agent).toMatchObject({
      name: 'default',
      description: 'dc1',
      status: 'offline',
      version: null,
      lastSeenAt: null,
      revokedAt: null,
      connectionCount: 0,
      keyPrefix: created.body.key.slice(0, 10),
    });
    expect(created.body.agent).not.toHaveProperty('keyHash');

    const row = await api.db.prisma.agent.findUniqueOrThrow({ where: { name: 'default' } });
    expect(row.keyHash).toBe(hashToken(created.body.key));
    expect(JSON.stringify(row)).not.toContain(created.body.key);

    const fetched = await api.request('GET', '/api/agents/default');
    expect(fetched.body).toEqual(created.body.agent);
    expect(fetched.text).not.toContain(created.body.key);
    expect((await api.request('GET', `/api/agents/${row.id}`)).body.name).toBe('default');
  });

  it('lists agents with status, version, last seen and connection count', async () => {
    await createAgent(api, 'dc2');
    await api.request('POST', '/api/connections', {
      body: { name: 'pg', type: 'postgres', agent: 'dc2', config: { host: 'db', database: 'a', user: 'a' } },
    });
    const seen = new Date('2030-01-02T03:04:05.000Z');
    const dc2Row = await api.db.prisma.agent.update({
      where: { name: 'dc2' },
      data: { status: 'online', version: '1.2.3', lastSeenAt: seen },
    });
    // Online is what a gateway replica holding its stream keeps fresh (AgentPresence), as it would.
    await api.db.prisma.$executeRaw`
      INSERT INTO "AgentPresence" ("agentId", "gatewayId", "seenAt")
      VALUES (${dc2Row.id}::uuid, 'gw-a', now() AT TIME ZONE 'UTC')`;
    // A replica that died an hour ago left its row behind, and the status column says online.
    const gone = await createAgent(api, 'dc3');
    await api.db.prisma.agent.update({ where: { name: 'dc3' }, data: { status: 'online' } });
    await api.db.prisma.$executeRaw`
      INSERT INTO "AgentPresence" ("agentId", "gatewayId", "seenAt")
      VALUES (${gone.id}::uuid, 'gw-b', now() AT TIME ZONE 'UTC' - interval '1 hour')`;
    const list = await api.request('GET', '/api/agents');
    expect(list.status).toBe(200);
    const dc2 = list.body.find((a: { name: string }) => a.name === 'dc2');
    expect(dc2).toMatchObject({
      status: 'online',
      version: '1.2.3',
      lastSeenAt: seen.toISOString(),
      connectionCount: 1,
    });
    expect(list.body.find((a: { name: string }) => a.name === 'dc3').status).toBe('offline');
    expect((await api.request('GET', '/api/agents/dc3')).body.status).toBe('offline');
    expect((await api.request('GET', '/api/connections/pg')).body.agent).toMatchObject({
      name: 'dc2',
      status: 'online',
    });
    expect(list.body.map((a: { name: string }) => a.name)).toEqual([...list.body.map((a: any) => a.name)].sort());
  });

  it('updates the description and refuses unknown fields', async () => {
    await createAgent(api, 'patchy');
    const patched = await api.request('PATCH', '/api/agents/patchy', { body: { description: 'rack 4' } });
    expect(patched.status).toBe(200);
    expect(patched.body.description).toBe('rack 4');
    const cleared = await api.request('PATCH', '/api/agents/patchy', { body: { description: null } });
    expect(cleared.body.description).toBeNull();
    const bad = await api.request('PATCH', '/api/agents/patchy', { body: { description: 'x', status: 'online' } });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: any) => d.field)).toEqual(['body.status']);
  });

  it('rotates the key: the old one no longer matches, the new one does', async () => {
    const { key: oldKey } = await createAgent(api, 'rotor');
    const rotated = await api.request('POST', '/api/agents/rotor/rotate-key');
    expect(rotated.status).toBe(200);
    expect(rotated.body.key).toMatch(/^wda_/);
    expect(rotated.body.key).not.toBe(oldKey);
    expect(rotated.body.agent.keyPrefix).toBe(rotated.body.key.slice(0, 10));
    expect(await api.db.prisma.agent.count({ where: { keyHash: hashToken(oldKey) } })).toBe(0);
    expect(await api.db.prisma.agent.count({ where: { name: 'rotor', keyHash: hashToken(rotated.body.key) } })).toBe(1);
    // Neither key reached the audit log or a log line.
    const audit = JSON.stringify(
      await api.db.prisma.auditEntry.findMany({ where: { targetName: 'rotor' } }),
      (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
    );
    expect(audit).toContain('agent.rotate_key');
    for (const key of [oldKey, rotated.body.key]) {
      expect(audit.includes(key)).toBe(false);
      expect(api.logs.join('\n').includes(key)).toBe(false);
    }
  });

  it('revokes an agent (idempotently) and refuses to rotate a revoked one', async () => {
    await createAgent(api, 'gone');
    const revoked = await api.request('POST', '/api/agents/gone/revoke');
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    const again = await api.request('POST', '/api/agents/gone/revoke');
    expect(again.body.revokedAt).toBe(revoked.body.revokedAt);
    const audit = await api.request('GET', '/api/audit?action=agent.revoke&targetType=agent');
    expect(audit.body.items.filter((e: any) => e.target.name === 'gone')).toHaveLength(1);
    expect((await api.request('POST', '/api/agents/gone/rotate-key')).status).toBe(409);
  });

  it('refuses to delete an agent that serves connections, deletes it afterwards', async () => {
    await createAgent(api, 'busy');
    await api.request('POST', '/api/connections', {
      body: { name: 'busy-pg', type: 'postgres', agent: 'busy', config: { host: 'db', database: 'a', user: 'a' } },
    });
    const refused = await api.request('DELETE', '/api/agents/busy');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain('busy-pg');
    expect((await api.request('DELETE', '/api/connections/busy-pg')).status).toBe(204);
    expect((await api.request('DELETE', '/api/agents/busy')).status).toBe(204);
    expect((await api.request('GET', '/api/agents/busy')).status).toBe(404);
  });

  it('answers 404 for unknown agents and 400 for invalid names', async () => {
    for (const [method, path] of [
      ['GET', '/api/agents/nope'],
      ['PATCH', '/api/agents/nope'],
      ['DELETE', '/api/agents/nope'],
      ['POST', '/api/agents/nope/rotate-key'],
      ['POST', '/api/agents/00000000-0000-4000-8000-000000000000/revoke'],
    ] as const) {
      const res = await api.request(method, path, method === 'PATCH' ? { body: { description: 'x' } } : {});
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const bad = await api.request('POST', '/api/agents', { body: { name: '-bad', extra: true } });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: any) => d.field).sort()).toEqual(['body.extra', 'body.name']);
  });

  it('turns duplicates and concurrent registrations of one name into one row and 409s', async () => {
    expect((await api.request('POST', '/api/agents', { body: { name: 'default' } })).status).toBe(409);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => api.request('POST', '/api/agents', { body: { name: 'racer' } })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    expect(await api.db.prisma.agent.count({ where: { name: 'racer' } })).toBe(1);
  });
});
