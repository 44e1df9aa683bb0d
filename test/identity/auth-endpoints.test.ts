import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity, startTestApi, type TestApi } from '../support/api.js';

// The sign-in endpoints on a deployment without OIDC: API keys only, and every
// endpoint still answers precisely (no 500, no token required where none can exist).
let api: TestApi;

beforeAll(async () => {
  api = await startTestApi();
});

afterAll(async () => {
  await api?.close();
});

describe('without OIDC configured', () => {
  it('says so, and the login endpoints answer 404 with what to set', async () => {
    const config = await api.request('GET', '/api/auth/config', { token: null });
    expect(config.body).toEqual({ oidc: { enabled: false } });
    const login = await api.request('GET', '/api/auth/oidc/login?return_to=/', { token: null });
    expect(login.status).toBe(404);
    expect(login.body.message).toMatch(/WARDEN_OIDC_ISSUER/);
    const jwks = await api.request('GET', '/api/auth/jwks', { token: null });
    expect(jwks.body.keys).toHaveLength(1);
  });

  it('refuses bad refresh, exchange and logout calls with 400 or 401, never 500', async () => {
    const cases: [string, string, unknown, string | null, number][] = [
      ['POST', '/api/auth/refresh', { refresh_token: 'wdr_nope' }, null, 401],
      ['POST', '/api/auth/refresh', { refresh_token: 'x', extra: 1 }, null, 400],
      ['POST', '/api/auth/exchange', { code: 'wdc_nope' }, null, 401],
      ['POST', '/api/auth/exchange', {}, null, 400],
      ['POST', '/api/auth/logout', undefined, null, 401],
      ['POST', '/api/auth/logout', { refresh_token: 'wdr_nope' }, null, 401],
      ['POST', '/api/auth/logout', { refresh_token: 7 }, null, 400],
      ['POST', '/api/auth/logout', undefined, api.adminKey, 400],
      ['POST', '/api/auth/logout', undefined, 'eyJhbGciOiJFZERTQSJ9.e30.sig', 401],
    ];
    for (const [method, path, body, token, status] of cases) {
      const res = await api.request(method, path, { body, token });
      expect(res.status, `${path} ${JSON.stringify(body)}`).toBe(status);
    }
  });

  it('a refresh token is never accepted as a bearer token, nor an API key as a refresh token', async () => {
    const user = await createIdentity(api, 'kim');
    expect((await api.request('GET', '/api/users/me', { token: 'wdr_' + 'a'.repeat(43) })).status).toBe(401);
    const asRefresh = await api.request('POST', '/api/auth/refresh', {
      token: null,
      body: { refresh_token: user.token },
    });
    expect(asRefresh.status).toBe(401);
    const signIns = await api.request('GET', '/api/auth/sign-ins', { token: user.token });
    expect(signIns.status).toBe(200);
    expect(signIns.body).toEqual([]);
  });
});
