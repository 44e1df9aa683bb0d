import { hashToken } from '@warden/access';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
let alice: Awaited<ReturnType<typeof createIdentity>>;
let bob: Awaited<ReturnType<typeof createIdentity>>;
let auditor: Awaited<ReturnType<typeof createIdentity>>;
beforeAll(async () => {
  api = await startTestApi();
  alice = await createIdentity(api, 'alice');
  bob = await createIdentity(api, 'bob');
  auditor = await createIdentity(api, 'audrey', { role: 'auditor' });
});
afterAll(async () => {
  await api?.close();
});

const future = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('/api/api-keys', () => {
  it('creates a key for the caller, shows the token once and stores only its hash', async () => {
    const expiresAt = future(86_400_000);
    const created = await api.request('POST', '/api/api-keys', { body: { name: 'laptop', expiresAt } });
    expect(created.status).toBe(201);
    const { apiKey, token } = created.body;
    expect(token).toMatch(/^wdn_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({
      name: 'laptop',
      prefix: token.slice(0, 10),
      identity: { name: 'admin' },
      expiresAt: new Date(expiresAt).toISOString(),
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(Object.keys(apiKey).sort()).toEqual(
      ['createdAt', 'expiresAt', 'id', 'identity', 'lastUsedAt', 'name', 'prefix', 'revokedAt'].sort(),
    );
    const row = await api.db.prisma.apiKey.findUniqueOrThrow({ where: { id: apiKey.id } });
    expect(row.hash).toBe(hashToken(token));
    expect(JSON.stringify(row)).not.toContain(token);

    // The token works, and the key records its use.
    const me = await api.request('GET', '/api/users/me', { token });
    expect(me.body.name).toBe('admin');
    const fetched = await api.request('GET', `/api/api-keys/${apiKey.id}`);
    expect(fetched.body.lastUsedAt).toEqual(expect.any(String));
    expect(fetched.text).not.toContain(token);
    expect(fetched.text).not.toContain(row.hash);
  });

  it('lets admins create keys for other identities by name or id', async () => {
    const byName = await api.request('POST', '/api/api-keys', { body: { name: 'ci', identity: 'bob' } });
    expect(byName.status).toBe(201);
    expect(byName.body.apiKey.identity).toEqual({ id: bob.id, name: 'bob' });
    const byId = await api.request('POST', '/api/api-keys', { body: { name: 'ci2', identity: bob.id } });
    expect(byId.body.apiKey.identity.name).toBe('bob');
    const me = await api.request('GET', '/api/users/me', { token: byName.body.token });
    expect(me.body.name).toBe('bob');

    const unknown = await api.request('POST', '/api/api-keys', { body: { name: 'x', identity: 'nobody' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details.map((d: any) => d.field)).toEqual(['body.identity']);
  });

  it('rejects past expiry, bad dates and duplicate names per identity', async () => {
    const past = await api.request('POST', '/api/api-keys', {
      body: { name: 'old', expiresAt: new Date(Date.now() - 1000).toISOString() },
    });
    expect(past.status).toBe(400);
    expect(past.body.details.map((d: any) => d.field)).toEqual(['body.expiresAt']);
    const garbage = await api.request('POST', '/api/api-keys', { body: { name: '', expiresAt: 'tomorrow' } });
    expect(garbage.status).toBe(400);
    expect(garbage.body.details.map((d: any) => d.field).sort()).toEqual(['body.expiresAt', 'body.name']);

    expect((await api.request('POST', '/api/api-keys', { body: { name: 'dup' } })).status).toBe(201);
    expect((await api.request('POST', '/api/api-keys', { body: { name: 'dup' } })).status).toBe(409);
    // The same name for another identity is fine.
    expect((await api.request('POST', '/api/api-keys', { token: alice.token, body: { name: 'dup' } })).status).toBe(
      201,
    );
  });

  it('lets users manage only their own keys', async () => {
    const own = await api.request('POST', '/api/api-keys', { token: alice.token, body: { name: 'mine' } });
    expect(own.status).toBe(201);
    expect(own.body.apiKey.identity.name).toBe('alice');
    // Naming oneself is allowed, naming someone else is not.
    expect(
      (await api.request('POST', '/api/api-keys', { token: alice.token, body: { name: 'self', identity: 'alice' } }))
        .status,
    ).toBe(201);
    expect(
      (await api.request('POST', '/api/api-keys', { token: alice.token, body: { name: 'evil', identity: 'bob' } }))
        .status,
    ).toBe(403);

    const list = await api.request('GET', '/api/api-keys', { token: alice.token });
    expect(list.status).toBe(200);
    expect(new Set(list.body.map((k: any) => k.identity.name))).toEqual(new Set(['alice']));
    expect(list.body.length).toBeGreaterThanOrEqual(3);
    const filtered = await api.request('GET', '/api/api-keys?identity=bob', { token: alice.token });
    expect(filtered.body).toEqual([]);

    // Someone else's key does not exist for alice.
    expect((await api.request('GET', `/api/api-keys/${bob.keyId}`, { token: alice.token })).status).toBe(404);
    expect((await api.request('DELETE', `/api/api-keys/${bob.keyId}`, { token: alice.token })).status).toBe(404);
    expect((await api.request('GET', '/api/users/me', { token: bob.token })).status).toBe(200);
    expect((await api.request('GET', `/api/api-keys/${own.body.apiKey.id}`, { token: alice.token })).status).toBe(200);
  });

  it('lists all keys for admins and auditors, filtered by identity', async () => {
    for (const token of [api.adminKey, auditor.token]) {
      const all = await api.request('GET', '/api/api-keys', { token });
      expect(all.status).toBe(200);
      expect(new Set(all.body.map((k: any) => k.identity.name))).toEqual(new Set(['admin', 'alice', 'bob', 'audrey']));
      const bobs = await api.request('GET', `/api/api-keys?identity=${bob.id}`, { token });
      expect(bobs.body.length).toBeGreaterThan(0);
      expect(new Set(bobs.body.map((k: any) => k.identity.name))).toEqual(new Set(['bob']));
      expect((await api.request('GET', `/api/api-keys/${alice.keyId}`, { token })).status).toBe(200);
    }
    expect((await api.request('GET', '/api/api-keys?identity=nobody')).body).toEqual([]);
    // Auditors never write, not even keys of their own.
    expect((await api.request('POST', '/api/api-keys', { token: auditor.token, body: { name: 'a' } })).status).toBe(
      403,
    );
    expect((await api.request('DELETE', `/api/api-keys/${auditor.keyId}`, { token: auditor.token })).status).toBe(403);
  });

  it('revokes a key: 204, then the key is rejected with 401', async () => {
    const created = await api.request('POST', '/api/api-keys', { token: alice.token, body: { name: 'short-lived' } });
    const { token, apiKey } = created.body;
    expect((await api.request('GET', '/api/users/me', { token })).status).toBe(200);
    expect((await api.request('DELETE', `/api/api-keys/${apiKey.id}`, { token: alice.token })).status).toBe(204);
    const rejected = await api.request('GET', '/api/users/me', { token });
    expect(rejected.status).toBe(401);
    expect(rejected.body.message).toMatch(/revoked/);
    const fetched = await api.request('GET', `/api/api-keys/${apiKey.id}`, { token: alice.token });
    expect(fetched.body.revokedAt).toEqual(expect.any(String));
    // Revoking again is a no-op.
    expect((await api.request('DELETE', `/api/api-keys/${apiKey.id}`, { token: alice.token })).status).toBe(204);
    expect((await api.request('GET', `/api/api-keys/${apiKey.id}`)).body.revokedAt).toBe(fetched.body.revokedAt);
    // Alice's other key is unaffected.
    expect((await api.request('GET', '/api/users/me', { token: alice.token })).status).toBe(200);
  });

  it('rejects an expired key with 401', async () => {
    const created = await api.request('POST', '/api/api-keys', {
      token: alice.token,
      body: { name: 'expiring', expiresAt: future(60_000) },
    });
    expect((await api.request('GET', '/api/users/me', { token: created.body.token })).status).toBe(200);
    await api.db.prisma.apiKey.update({
      where: { id: created.body.apiKey.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const rejected = await api.request('GET', '/api/users/me', { token: created.body.token });
    expect(rejected.status).toBe(401);
    expect(rejected.body.message).toMatch(/expired/);
  });

  it('never writes a token or its hash to the audit log or a log line', async () => {
    const created = await api.request('POST', '/api/api-keys', { body: { name: 'audited' } });
    expect(created.status).toBe(201);
    await api.request('DELETE', `/api/api-keys/${created.body.apiKey.id}`);
    const entries = await api.db.prisma.auditEntry.findMany({ where: { targetId: created.body.apiKey.id } });
    expect(entries.map((e) => e.action)).toEqual(['api_key.create', 'api_key.revoke']);
    const hash = hashToken(created.body.token);
    const audit = JSON.stringify(entries, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    const logs = api.logs.join('\n');
    for (const text of [audit, logs]) {
      for (const tokenLike of [created.body.token, hash, alice.token, api.adminKey]) {
        expect(text.includes(tokenLike)).toBe(false);
      }
    }
  });

  it('answers 404 for unknown and malformed ids', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      expect((await api.request('GET', `/api/api-keys/${id}`)).status).toBe(404);
      expect((await api.request('DELETE', `/api/api-keys/${id}`)).status).toBe(404);
    }
  });
});
