import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.js';

// Hostile input the API must refuse with a 400 naming the field (issue 24, item 7): a NUL character
// in a path id, a query filter or a JSON string or key (Postgres cannot store or compare text with
// NUL: these were 500s with error-level logs), and JSON bodies with prototype keys (refused before,
// but as "not valid JSON").
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api?.close();
});

const NUL = /must not contain a NUL character/;

/** Error-level (pino 50+) lines the API logged so far. */
function errorLogs(): string[] {
  return api.logs.filter((line) => /"level":(50|60)/.test(line));
}

describe('NUL characters', () => {
  it.each([
    ['GET', '/api/users/ad%00min', 'params.ref'],
    ['GET', '/api/groups/%00', 'params.ref'],
    ['GET', '/api/connections/pg%00prod', 'params.ref'],
    ['GET', '/api/agents/edge%00', 'params.ref'],
    ['GET', '/api/policies/p%00', 'params.ref'],
    ['GET', '/api/webhooks/w%00/deliveries', 'params.ref'],
    ['GET', '/api/api-keys/k%00', 'params.id'],
    ['GET', '/api/sessions/s%00', 'params.id'],
    ['GET', '/api/sessions/s%00/events', 'params.id'],
    ['GET', '/api/reviews/r%00', 'params.id'],
    ['DELETE', '/api/ssh-keys/k%00', 'params.id'],
    ['PUT', '/api/groups/g/members/ad%00min', 'params.identity'],
    ['POST', '/api/identities/ad%00min/block', 'params.ref'],
  ])('%s %s → 400 naming %s', async (method, path, field) => {
    const res = await api.request(method, path);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^invalid params: /);
    expect(res.body.details).toEqual([{ field, message: expect.stringMatching(NUL) }]);
  });

  it.each([
    ['/api/api-keys?identity=ad%00min', 'querystring.identity'],
    ['/api/audit?actor=ad%00min', 'querystring.actor'],
    ['/api/audit?action=user.%00*', 'querystring.action'],
    ['/api/sessions?identity=ad%00min', 'querystring.identity'],
    ['/api/sessions?connection=pg%00', 'querystring.connection'],
  ])('GET %s → 400 naming %s', async (path, field) => {
    const res = await api.request('GET', path);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/^invalid querystring: /);
    expect(res.body.details).toEqual([{ field, message: expect.stringMatching(NUL) }]);
  });

  it('names a query parameter whose name holds a NUL, and every bad one of a request', async () => {
    const res = await api.request('GET', '/api/audit?actor=a%00&action=b%00&x%00y=1');
    expect(res.status).toBe(400);
    const fields = res.body.details.map((d: { field: string }) => d.field).sort();
    expect(fields).toEqual(['querystring.action', 'querystring.actor', 'querystring.x\\u0000y']);
  });

  it('refuses \\u0000 in JSON string fields, nested ones and keys, naming each', async () => {
    const top = await api.request('POST', '/api/groups', { raw: '{"name":"nul-top","description":"a\\u0000b"}' });
    expect(top.status).toBe(400);
    expect(top.body.message).toMatch(/^invalid body: /);
    expect(top.body.details).toEqual([{ field: 'body.description', message: expect.stringMatching(NUL) }]);

    const nested = await api.request('POST', '/api/connections', {
      raw: '{"name":"nul-nested","type":"postgres","agent":"edge","config":{"host":"db\\u0000.internal","port":5432}}',
    });
    expect(nested.status).toBe(400);
    expect(nested.body.details).toEqual([{ field: 'body.config.host', message: expect.stringMatching(NUL) }]);

    const inArray = await api.request('POST', '/api/users', {
      raw: '{"name":"nul-array","groups":["ok","b\\u0000d"]}',
    });
    expect(inArray.status).toBe(400);
    expect(inArray.body.details).toEqual([{ field: 'body.groups.1', message: expect.stringMatching(NUL) }]);

    const key = await api.request('POST', '/api/groups', { raw: '{"name":"nul-key","x\\u0000":1}' });
    expect(key.status).toBe(400);
    expect(key.body.details).toEqual([{ field: 'body.x\\u0000', message: expect.stringMatching(NUL) }]);

    const patch = await api.request('PATCH', '/api/users/admin', { raw: '{"displayName":"\\u0000"}' });
    expect(patch.status).toBe(400);
    expect(patch.body.details).toEqual([{ field: 'body.displayName', message: expect.stringMatching(NUL) }]);

    // Nothing was written.
    expect(await api.db.prisma.group.count({ where: { name: { startsWith: 'nul-' } } })).toBe(0);
    expect((await api.request('GET', '/api/users/admin')).body.displayName).not.toContain('\u0000');
  });

  it('lists at most ten fields for a body full of NULs', async () => {
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'x\u0000']));
    const res = await api.request('POST', '/api/groups', { body: { name: 'nul-many', ...many } });
    expect(res.status).toBe(400);
    expect(res.body.details).toHaveLength(10);
  });

  it('checks the credential first: without a valid token the answer is 401', async () => {
    expect((await api.request('GET', '/api/users/a%00', { token: null })).status).toBe(401);
  });

  it('leaves values without NUL alone (other control characters are text)', async () => {
    const res = await api.request('POST', '/api/groups', { body: { name: 'tabs', description: 'a\tb\u0001c' } });
    expect(res.status).toBe(201);
    expect(res.body.description).toBe('a\tb\u0001c');
  });
});

describe('prototype keys in JSON bodies', () => {
  const PROTOTYPE = /prototype keys \(__proto__, constructor\.prototype\) are not allowed/;

  it.each([
    ['{"__proto__":{"isAdmin":true},"name":"p1"}', 'body.__proto__'],
    ['{"name":"p2","description":"d","x":{"y":[{"__proto__":{}}]}}', 'body.x.y.0.__proto__'],
    ['{"constructor":{"prototype":{"isAdmin":true}},"name":"p3"}', 'body.constructor.prototype'],
    ['{"name":"p4","\\u005f_proto__":{}}', 'body.__proto__'],
  ])('refuses %s, saying why and where', async (raw, field) => {
    const res = await api.request('POST', '/api/groups', { raw });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(PROTOTYPE);
    expect(res.body.message).not.toMatch(/valid JSON/);
    expect(res.body.details).toEqual([{ field, message: expect.stringMatching(PROTOTYPE) }]);
  });

  it('accepts the words as values, and a constructor key without a prototype reaches the schema', async () => {
    const values = await api.request('POST', '/api/groups', {
      body: { name: 'words', description: '__proto__ constructor prototype' },
    });
    expect(values.status).toBe(201);
    const constructorKey = await api.request('POST', '/api/groups', { raw: '{"name":"ctor","constructor":1}' });
    expect(constructorKey.status).toBe(400);
    expect(constructorKey.body.details).toEqual([
      { field: 'body.constructor', message: 'must NOT have additional properties' },
    ]);
  });

  it('still names broken JSON as broken JSON, and an empty JSON body as empty', async () => {
    const broken = await api.request('POST', '/api/groups', { raw: '{"name":' });
    expect(broken.status).toBe(400);
    expect(broken.body.message).toMatch(/^the body is not valid JSON: /);
    const empty = await api.request('POST', '/api/groups', { raw: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.message).toMatch(/cannot be empty/);
  });

  it('keeps the body limit', async () => {
    const res = await api.request('POST', '/api/groups', {
      body: { name: 'huge', description: 'x'.repeat(2 * 1024 * 1024) },
    });
    expect(res.status).toBe(413);
  });
});

describe('logs', () => {
  it('wrote no error-level line for any of the refused requests above', () => {
    expect(errorLogs()).toEqual([]);
    expect(api.logs.some((line) => line.includes('request refused: NUL character'))).toBe(true);
  });
});
