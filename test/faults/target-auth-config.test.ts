import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireAuthError } from '../../apps/api/src/routes/connections/require-auth.js';
import { parseRequireAuth } from '../../packages/proto/src/require-auth.js';
import { createAgent, startTestApi, type TestApi } from '../support/api.js';

// A Postgres connection's require_auth (which authentication methods the agent lets the
// target ask for) through the real API: validated with the field named, stored in config,
// removable. And the API's validator and the agent's parser agree on what is valid.

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
  await createAgent(api, 'edge');
});
afterAll(async () => {
  await api?.close();
});

const base = { host: '10.0.0.5', port: 5432, database: 'app', user: 'app', password: 'env:APP_DB_PASSWORD' };

function create(name: string, config: Record<string, unknown>) {
  return api.request('POST', '/api/connections', { body: { name, type: 'postgres', agent: 'edge', config } });
}

describe('require_auth on a postgres connection', () => {
  it('is stored as given and returned in config', async () => {
    const res = await create('auth-md5', { ...base, sslmode: 'require', require_auth: 'md5,scram-sha-256' });
    expect(res.status, res.text).toBe(201);
    expect(res.body.config).toMatchObject({ sslmode: 'require', require_auth: 'md5,scram-sha-256' });
    const row = await api.db.prisma.connection.findUniqueOrThrow({ where: { name: 'auth-md5' } });
    expect(row.config).toMatchObject({ require_auth: 'md5,scram-sha-256' });
  });

  it('is absent by default (the sslmode default applies at the agent)', async () => {
    const res = await create('auth-default', { ...base, sslmode: 'require' });
    expect(res.status, res.text).toBe(201);
    expect(res.body.config).not.toHaveProperty('require_auth');
  });

  it.each([
    ['kerberos', /"kerberos" is not a known method/],
    ['gss', /not supported by the agent/],
    ['md5,!password', /cannot be mixed/],
    ['md5,md5', /more than once/],
    ['scram-sha-256,', /item 2 is empty/],
    ['!password,!md5,!scram-sha-256,!none', /allows no method/],
  ])('refuses %j with a 400 on body.config.require_auth', async (spec, message) => {
    const res = await create(`auth-bad-${Math.random().toString(36).slice(2, 8)}`, {
      ...base,
      require_auth: spec,
    });
    expect(res.status, res.text).toBe(400);
    expect(res.body.details).toEqual([{ field: 'body.config.require_auth', message: expect.stringMatching(message) }]);
  });

  it('refuses a value that is not a non-empty string', async () => {
    for (const value of ['', ['md5'], 5]) {
      const res = await create('auth-not-string', { ...base, require_auth: value });
      expect(res.status, res.text).toBe(400);
      expect(res.body.details.map((d: { field: string }) => d.field)).toEqual(['body.config.require_auth']);
    }
  });

  it('is validated on PATCH too, and removed with null', async () => {
    expect((await create('auth-patch', { ...base, sslmode: 'disable' })).status).toBe(201);
    const bad = await api.request('PATCH', '/api/connections/auth-patch', {
      body: { config: { require_auth: 'ldap' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([
      { field: 'body.config.require_auth', message: expect.stringMatching(/"ldap" is not a known method/) },
    ]);
    const set = await api.request('PATCH', '/api/connections/auth-patch', {
      body: { config: { require_auth: '!password' } },
    });
    expect(set.status, set.text).toBe(200);
    expect(set.body.config.require_auth).toBe('!password');
    const cleared = await api.request('PATCH', '/api/connections/auth-patch', {
      body: { config: { require_auth: null } },
    });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body.config).not.toHaveProperty('require_auth');
  });

  it('is not a setting of ssh connections', async () => {
    const res = await api.request('POST', '/api/connections', {
      body: {
        name: 'ssh-auth',
        type: 'ssh',
        agent: 'edge',
        config: {
          host: '10.0.0.6',
          user: 'ops',
          password: 'env:SSH_PASSWORD',
          hostKeyFingerprint: `SHA256:${'A'.repeat(43)}`,
          require_auth: 'md5',
        },
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain('body.config.require_auth');
  });
});

describe('the API validator and the agent parser', () => {
  const methods = ['password', 'md5', 'scram-sha-256', 'none', 'gss', 'sspi', 'ldap', 'MD5', ''];
  const specs = new Set<string>();
  for (const a of methods) {
    for (const b of methods) {
      for (const [na, nb] of [
        ['', ''],
        ['!', '!'],
        ['', '!'],
        ['!', ''],
      ]) {
        specs.add(`${na}${a}`);
        specs.add(`${na}${a},${nb}${b}`);
        specs.add(`${na}${a}, ${nb}${b}`);
      }
    }
  }
  specs.add('!password,!md5,!scram-sha-256,!none');
  specs.add('password,md5,scram-sha-256,none');
  specs.add('!password,!md5,!scram-sha-256');

  it(`accept and refuse the same values (${specs.size} checked)`, () => {
    let accepted = 0;
    for (const spec of specs) {
      const parsed = parseRequireAuth(spec);
      const error = requireAuthError(spec);
      expect({ spec, error }).toEqual({ spec, error: parsed.ok ? null : parsed.error });
      if (parsed.ok) accepted += 1;
    }
    // Both kinds really occur in the corpus.
    expect(accepted).toBeGreaterThan(20);
    expect(specs.size - accepted).toBeGreaterThan(20);
  });
});
