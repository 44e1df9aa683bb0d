import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.js';

// Failed authentications per client address at the API (issue 24, item 6), with the gateway's
// settings (WARDEN_LOGIN_MAX_FAILURES / WARDEN_LOGIN_LOCKOUT_MS): past the limit an address gets 429
// with Retry-After, a valid token from it too, until the lockout ends; other addresses are not
// affected. Every 127.x.y.z address is loopback on Linux, so each test speaks from its own.
const LOCKOUT_MS = 2_500;
let api: TestApi;
let defaults: TestApi;

beforeAll(async () => {
  api = await startTestApi({ config: { loginMaxFailures: 3, loginLockoutMs: LOCKOUT_MS } });
  // The settings' defaults (20 failures in 60 s), as the issue's flood met them.
  defaults = await startTestApi();
}, 120_000);

afterAll(async () => {
  await api?.close();
  await defaults?.close();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** One request from the loopback address `from` (the API binds 127.0.0.1; the client binds `from`). */
function call(
  target: TestApi,
  from: string,
  method: string,
  path: string,
  options: { token?: string | null; body?: unknown } = {},
): Promise<Answer> {
  const url = new URL(path, target.baseUrl);
  const token = options.token === undefined ? target.adminKey : options.token;
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        localAddress: from,
        agent: false,
        headers: {
          ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const wrong = () => 'wdn_wrong_' + randomBytes(16).toString('hex');

/** The value of one unlabelled counter on the API's /metrics. */
async function metric(target: TestApi, name: string): Promise<number> {
  const text = await (await fetch(`${target.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`${name} is not on /metrics`);
  return Number(line.split(' ')[1]);
}

describe('failed API authentications per client address', () => {
  it('locks the address out after three wrong tokens, a valid token too, then lets it in again', async () => {
    const from = '127.0.0.2';
    const lockoutsBefore = await metric(api, 'warden_api_auth_lockouts_total');
    expect((await call(api, from, 'GET', '/api/users')).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const refused = await call(api, from, 'GET', '/api/users', { token: wrong() });
      expect(refused.status).toBe(401);
      expect(refused.body.message).toBe('the token is not valid');
    }
    const lockedAt = Date.now();

    const throttled = await call(api, from, 'GET', '/api/users', { token: wrong() });
    expect(throttled.status).toBe(429);
    expect(throttled.body).toMatchObject({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/^too many failed authentications from this address; try again in [1-3] s$/),
    });
    const retryAfter = Number(throttled.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(LOCKOUT_MS / 1000));

    // The admin's valid token is refused from that address as well, on every /api route.
    expect((await call(api, from, 'GET', '/api/users')).status).toBe(429);
    expect((await call(api, from, 'POST', '/api/groups', { body: { name: 'during-lockout' } })).status).toBe(429);
    expect(await api.db.prisma.group.count({ where: { name: 'during-lockout' } })).toBe(0);
    // What carries no credential stays readable.
    expect((await call(api, from, 'GET', '/api/auth/config', { token: null })).status).toBe(200);
    // Another address is not affected.
    expect((await call(api, '127.0.0.3', 'GET', '/api/users')).status).toBe(200);

    expect(await metric(api, 'warden_api_auth_lockouts_total')).toBe(lockoutsBefore + 1);
    expect(api.logs.some((l) => l.includes('address locked out of the API') && l.includes(from))).toBe(true);

    // The lockout ends on its own: requests made while locked out did not extend it.
    await new Promise((r) => setTimeout(r, Math.max(0, lockedAt + LOCKOUT_MS + 300 - Date.now())));
    expect((await call(api, from, 'GET', '/api/users')).status).toBe(200);
  });

  it('counts wrong refresh tokens and login codes as failures too', async () => {
    const from = '127.0.0.4';
    expect(
      (await call(api, from, 'POST', '/api/auth/refresh', { token: null, body: { refresh_token: 'wdr_' + wrong() } }))
        .status,
    ).toBe(401);
    expect((await call(api, from, 'POST', '/api/auth/exchange', { token: null, body: { code: wrong() } })).status).toBe(
      401,
    );
    expect((await call(api, from, 'GET', '/api/users', { token: wrong() })).status).toBe(401);
    expect((await call(api, from, 'GET', '/api/users')).status).toBe(429);
    expect(
      (await call(api, from, 'POST', '/api/auth/refresh', { token: null, body: { refresh_token: 'wdr_x' } })).status,
    ).toBe(429);
  });

  it('does not count requests without any credential', async () => {
    const from = '127.0.0.5';
    for (let i = 0; i < 10; i++) {
      const res = await call(api, from, 'GET', '/api/users', { token: null });
      expect(res.status).toBe(401);
      expect(res.body.message).toBe('credentials are required');
    }
    expect((await call(api, from, 'GET', '/api/users')).status).toBe(200);
  });

  it('stops a flood with the default settings: 20 wrong tokens answered, the rest refused unread', async () => {
    const from = '127.0.0.6';
    const failuresBefore = await metric(defaults, 'warden_api_auth_failures_total');
    const throttledBefore = await metric(defaults, 'warden_api_auth_throttled_total');
    const lookedUp = () => defaults.logs.filter((l) => l.includes('"msg":"authentication failed"')).length;
    const lookupsBefore = lookedUp();
    const statuses: number[] = [];
    for (let i = 0; i < 200; i++)
      statuses.push((await call(defaults, from, 'GET', '/api/users', { token: wrong() })).status);
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(Array(180).fill(429));
    expect(await metric(defaults, 'warden_api_auth_failures_total')).toBe(failuresBefore + 20);
    expect(await metric(defaults, 'warden_api_auth_throttled_total')).toBe(throttledBefore + 180);
    // Only the first 20 tokens were looked up (each lookup logs its reason).
    expect(lookedUp()).toBe(lookupsBefore + 20);
    // Requests in parallel from one address do not slip past it either.
    const parallel = await Promise.all(
      Array.from({ length: 50 }, () => call(defaults, from, 'GET', '/api/users', { token: wrong() })),
    );
    expect(parallel.map((r) => r.status)).toEqual(Array(50).fill(429));
    expect(Number((await call(defaults, from, 'GET', '/api/users')).headers['retry-after'])).toBeGreaterThan(50);
    expect((await call(defaults, '127.0.0.7', 'GET', '/api/users')).status).toBe(200);
  });
});

describe('WARDEN_LOGIN_MAX_FAILURES=0', () => {
  it('turns the API lockout off', async () => {
    const off = await startTestApi({ config: { loginMaxFailures: 0 } });
    try {
      for (let i = 0; i < 30; i++)
        expect((await call(off, '127.0.0.8', 'GET', '/api/users', { token: wrong() })).status).toBe(401);
      expect((await call(off, '127.0.0.8', 'GET', '/api/users')).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});
