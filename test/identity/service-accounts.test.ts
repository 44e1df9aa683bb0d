import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';

// Machine identities (an AI agent, a CI job): a service account created through the API
// by an admin, with its own group and an expiring API key, connects through the real
// gateway and agent; its session and recording are under its own name; disabling it
// stops its key at once and ends its live sessions.
let dp: DataPath;
let botKey: string;
const keys: string[] = [];

async function api(method: string, path: string, body?: unknown, token?: string | null) {
  return dp.api.request(method, path, { body, ...(token !== undefined ? { token } : {}) });
}

async function connect(token: string, connection = 'pg-ci') {
  const client = new pg.Client({ connectionString: dp.url(token, connection) });
  const ended = new Promise<Error & { code?: string }>((resolve) => client.on('error', resolve));
  await client.connect();
  return { client, ended };
}

async function loginCode(token: string, connection = 'pg-ci'): Promise<string> {
  try {
    const { client } = await connect(token, connection);
    await client.end();
    return 'connected';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

beforeAll(async () => {
  // The gateway is another process: the API's disable message reaches it through Redis.
  dp = await startDataPath({ redisPrefix: `warden-test-${randomBytes(4).toString('hex')}` });
  for (const name of ['ci', 'finance']) expect((await api('POST', '/api/groups', { name })).status).toBe(201);
  for (const [name, group] of [
    ['pg-ci', 'ci'],
    ['pg-finance', 'finance'],
  ] as const) {
    const res = await api('POST', '/api/connections', {
      name,
      type: 'postgres',
      agent: 'edge',
      config: { host: '127.0.0.1', port: 5432, database: dp.targetDb, user: 'postgres', sslmode: 'disable' },
      allowedGroups: [group],
    });
    expect(res.status).toBe(201);
  }
});

afterAll(async () => {
  await dp?.close();
});

describe('service accounts', () => {
  it('are created by admins with their own groups; users may not create them', async () => {
    const created = await api('POST', '/api/users', { name: 'ci-bot', kind: 'service', groups: ['ci'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'ci-bot', kind: 'service', role: 'user', status: 'active' });
    expect(created.body.groups.map((g: { name: string }) => g.name)).toEqual(['ci']);
    const list = await api('GET', '/api/users?kind=service');
    expect(list.body.map((u: { name: string }) => u.name)).toEqual(['ci-bot']);

    await api('POST', '/api/users', { name: 'plain-user' });
    const userKey = await api('POST', '/api/api-keys', { name: 'k', identity: 'plain-user' });
    keys.push(userKey.body.token);
    const refused = await api('POST', '/api/users', { name: 'rogue-bot', kind: 'service' }, userKey.body.token);
    expect(refused.status).toBe(403);
    const foreignKey = await api('POST', '/api/api-keys', { name: 'steal', identity: 'ci-bot' }, userKey.body.token);
    expect(foreignKey.status).toBe(403);
  });

  it('get API keys that are prefixed, hashed at rest and may expire', async () => {
    const expiresAt = new Date(Date.now() + 3600_000).toISOString();
    const res = await api('POST', '/api/api-keys', { name: 'pipeline', identity: 'ci-bot', expiresAt });
    expect(res.status).toBe(201);
    botKey = res.body.token;
    keys.push(botKey);
    expect(botKey).toMatch(/^wdn_[A-Za-z0-9_-]{40,}$/);
    expect(res.body.apiKey).toMatchObject({ prefix: botKey.slice(0, 10), identity: { name: 'ci-bot' } });
    expect(new Date(res.body.apiKey.expiresAt).toISOString()).toBe(expiresAt);
    const row = await dp.api.db.prisma.apiKey.findUniqueOrThrow({ where: { id: res.body.apiKey.id } });
    expect(row.hash).toBe(createHash('sha256').update(botKey).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(botKey);
    const listed = await api('GET', '/api/api-keys?identity=ci-bot');
    expect(listed.text).not.toContain(botKey);
    const past = await api('POST', '/api/api-keys', {
      name: 'old',
      identity: 'ci-bot',
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    expect(past.status).toBe(400);
  });

  it('connect through the gateway with the key, and the session is recorded under the service account', async () => {
    const me = await api('GET', '/api/users/me', undefined, botKey);
    expect(me.body).toMatchObject({ name: 'ci-bot', kind: 'service' });
    const result = await dp.psql(['-tAc', "select 'ran by the pipeline'"], { token: botKey, connection: 'pg-ci' });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('ran by the pipeline');
    expect(await loginCode(botKey, 'pg-finance')).toBe('28000');

    await expect
      .poll(async () => (await api('GET', '/api/sessions?identity=ci-bot')).body.items?.[0]?.sealed, {
        timeout: 15_000,
      })
      .toBe(true);
    const sessions = await api('GET', '/api/sessions?identity=ci-bot');
    const [session] = sessions.body.items;
    expect(session).toMatchObject({ identity: { name: 'ci-bot' }, connection: { name: 'pg-ci' }, status: 'closed' });
    const row = await dp.api.db.prisma.session.findUniqueOrThrow({ where: { id: session.id } });
    const bot = await dp.api.db.prisma.identity.findUniqueOrThrow({ where: { name: 'ci-bot' } });
    expect(row.identityId).toBe(bot.id);
    const exported = await api('GET', `/api/sessions/${session.id}/export`);
    expect(exported.status).toBe(200);
    const events = exported.text
      .trim()
      .split('\n')
      .map((line: string) => JSON.parse(line));
    const start = events.find((e: { kind: string }) => e.kind === 'session.start');
    expect(start.payload.identity).toMatchObject({ id: bot.id, name: 'ci-bot' });
    expect(exported.text).toContain('ran by the pipeline');
    expect(exported.text).not.toContain(botKey);
    const verify = await api('GET', `/api/sessions/${session.id}/verify`);
    expect(verify.body.valid ?? verify.body.ok ?? verify.body.intact).toBe(true);
  });

  it('an expired key is refused with 401 and 28P01', async () => {
    const res = await api('POST', '/api/api-keys', {
      name: 'short',
      identity: 'ci-bot',
      expiresAt: new Date(Date.now() + 1500).toISOString(),
    });
    const shortKey: string = res.body.token;
    keys.push(shortKey);
    expect(await loginCode(shortKey)).toBe('connected');
    await new Promise((r) => setTimeout(r, 1600));
    expect((await api('GET', '/api/users/me', undefined, shortKey)).status).toBe(401);
    expect(await loginCode(shortKey)).toBe('28P01');
  });

  it('disabling the identity stops its key at once and ends its live session; enabling restores the key', async () => {
    const live = await connect(botKey);
    await live.client.query('select 1');
    const started = Date.now();
    const disabled = await api('PATCH', '/api/users/ci-bot', { status: 'disabled' });
    expect(disabled.status).toBe(200);
    expect((await api('GET', '/api/users/me', undefined, botKey)).status).toBe(401);
    expect(await loginCode(botKey)).toBe('28P01');
    const ended = await live.ended;
    expect(ended.code).toBe('57P01');
    expect(Date.now() - started).toBeLessThan(1000 + 500);
    expect((await api('PATCH', '/api/users/ci-bot', { status: 'active' })).status).toBe(200);
    expect(await loginCode(botKey)).toBe('connected');
  });

  it("revoking a key ends the live sessions opened with it, not those of the account's other keys", async () => {
    const created = await api('POST', '/api/api-keys', { name: 'revoke-me', identity: 'ci-bot' });
    expect(created.status).toBe(201);
    keys.push(created.body.token);
    const doomed = await connect(created.body.token);
    const sibling = await connect(botKey);
    await doomed.client.query('select 1');
    const started = Date.now();
    expect((await api('DELETE', `/api/api-keys/${created.body.apiKey.id}`)).status).toBe(204);
    const ended = await doomed.ended;
    expect(ended.code).toBe('57P01');
    expect(ended.message).toContain('the API key was revoked');
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await sibling.client.query('select 2 as n')).rows).toEqual([{ n: 2 }]);
    await sibling.client.end();
    expect(await loginCode(created.body.token)).toBe('28P01');
  });

  it('never writes a key to the logs', () => {
    const logs = [dp.api.logs.join(''), dp.gateway.output(), dp.agent.output()].join('\n');
    for (const key of keys) expect(logs.includes(key)).toBe(false);
  });
});
