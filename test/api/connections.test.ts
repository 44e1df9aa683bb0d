import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
  await createAgent(api, 'default');
  await createAgent(api, 'edge');
  await api.request('POST', '/api/groups', { body: { name: 'engineering' } });
});
afterAll(async () => {
  await api?.close();
});

const pgConfig = {
  host: '10.0.0.5',
  port: 5432,
  database: 'app',
  user: 'app',
  password: 'env:APP_DB_PASSWORD',
  sslmode: 'prefer',
};

function fields(res: { body: any }): string[] {
  return (res.body.details ?? []).map((d: { field: string }) => d.field);
}

describe('/api/connections', () => {
  it('creates the DESIGN.md example and reads it by id, by name and in the list', async () => {
    const created = await api.request('POST', '/api/connections', {
      body: { name: 'pg-prod', type: 'postgres', agent: 'default', config: pgConfig, allowedGroups: ['engineering'] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'pg-prod',
      type: 'postgres',
      description: null,
      agent: { name: 'default', status: 'offline' },
      config: { host: '10.0.0.5', port: 5432, database: 'app', user: 'app', sslmode: 'prefer' },
      secrets: { password: { source: 'env', ref: 'env:APP_DB_PASSWORD' } },
      allowedGroups: ['engineering'],
      options: {},
    });
    expect(created.body.config).not.toHaveProperty('password');

    const byId = await api.request('GET', `/api/connections/${created.body.id}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual(created.body);
    expect((await api.request('GET', '/api/connections/pg-prod')).body.id).toBe(created.body.id);
    const list = await api.request('GET', '/api/connections');
    expect(list.body.map((c: { name: string }) => c.name)).toContain('pg-prod');

    const row = await api.db.prisma.connection.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(row.config).not.toHaveProperty('password');
    expect(row.secrets).toEqual({ password: { source: 'env', ref: 'env:APP_DB_PASSWORD' } });
  });

  it('applies per-type defaults and stores file references', async () => {
    const pg = await api.request('POST', '/api/connections', {
      body: {
        name: 'pg-defaults',
        type: 'postgres',
        agent: 'default',
        config: { host: 'db', database: 'app', user: 'app', sslrootcert: 'file:/etc/ssl/root.pem' },
      },
    });
    expect(pg.status).toBe(201);
    expect(pg.body.config).toEqual({
      host: 'db',
      port: 5432,
      database: 'app',
      user: 'app',
      sslmode: 'prefer',
      sslrootcert: 'file:/etc/ssl/root.pem',
    });
    expect(pg.body.secrets).toEqual({});
    expect(pg.body.allowedGroups).toEqual([]);

    const ssh = await api.request('POST', '/api/connections', {
      body: {
        name: 'bastion',
        type: 'ssh',
        agent: 'edge',
        config: {
          host: 'bastion.internal',
          user: 'deploy',
          privateKey: 'file:/run/secrets/deploy_key',
          hostKeyFingerprint: 'SHA256:' + 'A'.repeat(43),
        },
      },
    });
    expect(ssh.status).toBe(201);
    expect(ssh.body.config).toEqual({
      host: 'bastion.internal',
      port: 22,
      user: 'deploy',
      hostKeyFingerprint: 'SHA256:' + 'A'.repeat(43),
    });
    expect(ssh.body.secrets).toEqual({ privateKey: { source: 'file', ref: 'file:/run/secrets/deploy_key' } });

    const http = await api.request('POST', '/api/connections', {
      body: {
        name: 'billing-api',
        type: 'http',
        agent: 'edge',
        description: 'internal billing',
        config: {
          url: 'https://billing.internal/v1',
          headers: { 'X-Tenant': 'acme' },
          authorization: 'env:BILLING_AUTH',
        },
        options: { recordBodies: false },
      },
    });
    expect(http.status).toBe(201);
    expect(http.body).toMatchObject({
      description: 'internal billing',
      config: { url: 'https://billing.internal/v1', headers: { 'X-Tenant': 'acme' } },
      secrets: { authorization: { source: 'env', ref: 'env:BILLING_AUTH' } },
      options: { recordBodies: false },
    });
  });

  it('patches by merging config, replacing and removing secrets, and rejects a type change', async () => {
    await api.request('POST', '/api/connections', {
      body: { name: 'pg-patch', type: 'postgres', agent: 'default', config: pgConfig, options: { a: 1, b: 2 } },
    });
    const merged = await api.request('PATCH', '/api/connections/pg-patch', {
      body: { description: 'primary', config: { port: 6432, sslmode: 'require' }, options: { b: null, c: 3 } },
    });
    expect(merged.status).toBe(200);
    expect(merged.body).toMatchObject({
      description: 'primary',
      config: { host: '10.0.0.5', port: 6432, database: 'app', user: 'app', sslmode: 'require' },
      secrets: { password: { source: 'env', ref: 'env:APP_DB_PASSWORD' } },
      options: { a: 1, c: 3 },
    });
    expect(merged.body.options).not.toHaveProperty('b');

    const replaced = await api.request('PATCH', '/api/connections/pg-patch', {
      body: { config: { password: 'file:/run/secrets/pg' } },
    });
    expect(replaced.body.secrets).toEqual({ password: { source: 'file', ref: 'file:/run/secrets/pg' } });
    expect(replaced.body.config.port).toBe(6432);

    const removed = await api.request('PATCH', '/api/connections/pg-patch', { body: { config: { password: null } } });
    expect(removed.status).toBe(200);
    expect(removed.body.secrets).toEqual({});

    const moved = await api.request('PATCH', '/api/connections/pg-patch', {
      body: { name: 'pg-renamed', agent: 'edge', allowedGroups: ['engineering', 'engineering'], description: null },
    });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ name: 'pg-renamed', agent: { name: 'edge' }, allowedGroups: ['engineering'] });
    expect(moved.body.description).toBeNull();
    expect((await api.request('GET', '/api/connections/pg-patch')).status).toBe(404);

    const retype = await api.request('PATCH', '/api/connections/pg-renamed', { body: { type: 'ssh' } });
    expect(retype.status).toBe(400);
    expect(fields(retype)).toEqual(['body.type']);
    // Repeating the current type is not a change.
    expect((await api.request('PATCH', '/api/connections/pg-renamed', { body: { type: 'postgres' } })).status).toBe(
      200,
    );

    const dropRequired = await api.request('PATCH', '/api/connections/pg-renamed', {
      body: { config: { host: null } },
    });
    expect(dropRequired.status).toBe(400);
    expect(fields(dropRequired)).toEqual(['body.config.host']);
    const unknownKey = await api.request('PATCH', '/api/connections/pg-renamed', { body: { config: { hots: 'x' } } });
    expect(unknownKey.status).toBe(400);
    expect(fields(unknownKey)).toEqual(['body.config.hots']);
    expect((await api.request('PATCH', '/api/connections/pg-renamed', { body: {} })).status).toBe(400);
    // Nothing of the failed patches was applied.
    expect((await api.request('GET', '/api/connections/pg-renamed')).body.config.host).toBe('10.0.0.5');
  });

  it('reports every invalid config field of the declared type', async () => {
    const pg = await api.request('POST', '/api/connections', {
      body: {
        name: 'bad-pg',
        type: 'postgres',
        agent: 'default',
        config: { port: 'five', sslmode: 'sometimes', extra: true, password: 'env:not a name', sslrootcert: 'cert' },
      },
    });
    expect(pg.status).toBe(400);
    expect(fields(pg)).toEqual(
      expect.arrayContaining([
        'body.config.host',
        'body.config.database',
        'body.config.user',
        'body.config.port',
        'body.config.sslmode',
        'body.config.extra',
        'body.config.password',
        'body.config.sslrootcert',
      ]),
    );
    expect(fields(pg)).toHaveLength(8);

    const ssh = await api.request('POST', '/api/connections', {
      body: {
        name: 'bad-ssh',
        type: 'ssh',
        agent: 'default',
        config: { host: 'h', user: 'u', hostKeyFingerprint: 'MD5:aa:bb', passphrase: 'x', privateKey: null },
      },
    });
    expect(ssh.status).toBe(400);
    expect(fields(ssh).sort()).toEqual([
      'body.config.hostKeyFingerprint',
      'body.config.passphrase',
      'body.config.password', // neither password nor privateKey
    ]);

    const literalKey = await api.request('POST', '/api/connections', {
      body: { name: 'bad-key', type: 'ssh', agent: 'default', config: { host: 'h', user: 'u', privateKey: 'hunter2' } },
    });
    expect(literalKey.status).toBe(400);
    // No pinned host key either: the agent would refuse the target.
    expect(fields(literalKey).sort()).toEqual(['body.config.hostKeyFingerprint', 'body.config.privateKey']);

    const http = await api.request('POST', '/api/connections', {
      body: {
        name: 'bad-http',
        type: 'http',
        agent: 'default',
        config: { url: 'ftp://files.internal', headers: { Authorization: 'Bearer x', 'bad header': 'v' } },
      },
    });
    expect(http.status).toBe(400);
    expect(fields(http).sort()).toEqual([
      'body.config.headers.Authorization',
      'body.config.headers.bad header',
      'body.config.url',
    ]);

    const body = await api.request('POST', '/api/connections', {
      body: { name: 'bad name', type: 'mysql', config: {}, allowedGroups: 'engineering', surprise: 1 },
    });
    expect(body.status).toBe(400);
    expect(fields(body)).toEqual(expect.arrayContaining(['body.name', 'body.type', 'body.agent', 'body.surprise']));
    expect(await api.db.prisma.connection.count({ where: { name: { startsWith: 'bad' } } })).toBe(0);
  });

  it('rejects unknown and revoked agents on body.agent', async () => {
    const unknown = await api.request('POST', '/api/connections', {
      body: { name: 'no-agent', type: 'postgres', agent: 'nowhere', config: pgConfig },
    });
    expect(unknown.status).toBe(400);
    expect(fields(unknown)).toEqual(['body.agent']);

    await createAgent(api, 'retired');
    expect((await api.request('POST', '/api/agents/retired/revoke')).status).toBe(200);
    const revoked = await api.request('POST', '/api/connections', {
      body: { name: 'no-agent', type: 'postgres', agent: 'retired', config: pgConfig },
    });
    expect(revoked.status).toBe(400);
    expect(fields(revoked)).toEqual(['body.agent']);
    expect((await api.request('PATCH', '/api/connections/pg-prod', { body: { agent: 'nowhere' } })).status).toBe(400);
  });

  it('answers 404 for unknown ids and names', async () => {
    for (const ref of ['nope', '00000000-0000-4000-8000-000000000000']) {
      expect((await api.request('GET', `/api/connections/${ref}`)).status).toBe(404);
      expect((await api.request('PATCH', `/api/connections/${ref}`, { body: { description: 'x' } })).status).toBe(404);
      expect((await api.request('DELETE', `/api/connections/${ref}`)).status).toBe(404);
    }
  });

  it('deletes a connection, but not one with recorded sessions', async () => {
    const created = await api.request('POST', '/api/connections', {
      body: { name: 'pg-temp', type: 'postgres', agent: 'default', config: pgConfig },
    });
    expect((await api.request('DELETE', `/api/connections/${created.body.id}`)).status).toBe(204);
    expect((await api.request('GET', '/api/connections/pg-temp')).status).toBe(404);

    const used = await api.request('POST', '/api/connections', {
      body: { name: 'pg-used', type: 'postgres', agent: 'default', config: pgConfig },
    });
    const admin = await api.db.prisma.identity.findUniqueOrThrow({ where: { name: 'admin' } });
    await api.db.prisma.session.create({
      data: { identityId: admin.id, connectionId: used.body.id, protocol: 'postgres', status: 'closed' },
    });
    const refused = await api.request('DELETE', '/api/connections/pg-used');
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/session/);
    expect((await api.request('GET', '/api/connections/pg-used')).status).toBe(200);
  });

  it('turns duplicates and concurrent creates of one name into one row and 409s', async () => {
    const dup = await api.request('POST', '/api/connections', {
      body: { name: 'pg-prod', type: 'postgres', agent: 'default', config: pgConfig },
    });
    expect(dup.status).toBe(409);

    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        api.request('POST', '/api/connections', {
          body: { name: 'pg-race', type: 'postgres', agent: 'default', config: pgConfig },
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    expect(await api.db.prisma.connection.count({ where: { name: 'pg-race' } })).toBe(1);

    const renameClash = await api.request('PATCH', '/api/connections/pg-race', { body: { name: 'pg-prod' } });
    expect(renameClash.status).toBe(409);
  });

  it('applies concurrent config patches one after the other', async () => {
    await api.request('POST', '/api/connections', {
      body: { name: 'http-merge', type: 'http', agent: 'default', config: { url: 'http://svc.internal' } },
    });
    // Each patch merges one key; a lost update would drop some of them.
    const patches = await Promise.all([
      api.request('PATCH', '/api/connections/http-merge', { body: { config: { authorization: 'env:A' } } }),
      api.request('PATCH', '/api/connections/http-merge', { body: { config: { headers: { 'X-A': '1' } } } }),
      ...Array.from({ length: 8 }, (_, i) =>
        api.request('PATCH', '/api/connections/http-merge', { body: { options: { [`k${i}`]: i } } }),
      ),
    ]);
    expect(patches.map((p) => p.status)).toEqual(Array(10).fill(200));
    const final = await api.request('GET', '/api/connections/http-merge');
    expect(final.body).toMatchObject({
      config: { url: 'http://svc.internal', headers: { 'X-A': '1' } },
      secrets: { authorization: { source: 'env', ref: 'env:A' } },
      options: Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, i])),
    });
  });
});
