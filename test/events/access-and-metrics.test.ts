import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveMetrics } from '@warden/runtime/metrics';
import { createIdentity, startTestApi, type TestApi } from '../support/api.js';

// Who may read events and webhooks, and /metrics behind WARDEN_METRICS_TOKEN (API and the
// separate-process metrics server the gateway and agent use).

const METRICS_TOKEN = 'mt-7f3a9c1e5b2d4f6a8c0e';
let api: TestApi;
let auditor: { token: string };
let user: { token: string };

beforeAll(async () => {
  api = await startTestApi({ config: { metricsToken: METRICS_TOKEN } });
  auditor = await createIdentity(api, 'audrey', { role: 'auditor' });
  user = await createIdentity(api, 'ursula', { role: 'user' });
});

afterAll(async () => {
  await api?.close();
});

describe('roles', () => {
  it('admins and auditors list events; users may not; only admins manage webhooks', async () => {
    expect((await api.request('GET', '/api/events')).status).toBe(200);
    expect((await api.request('GET', '/api/events', { token: auditor.token })).status).toBe(200);
    expect((await api.request('GET', '/api/events', { token: user.token })).status).toBe(403);
    expect((await api.request('GET', '/api/events/stream', { token: user.token })).status).toBe(403);
    expect((await api.request('GET', '/api/events/stream?types=bogus')).status).toBe(400);
    expect((await api.request('GET', '/api/webhooks', { token: auditor.token })).status).toBe(403);
    expect((await api.request('GET', '/api/events', { token: null })).status).toBe(401);
  });

  it('validates webhook input with field details', async () => {
    const res = await api.request('POST', '/api/webhooks', { body: { name: 'x', url: 'ftp://nope', secret: 'short' } });
    expect(res.status).toBe(400);
    const fields = res.body.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['body.url', 'body.secret']));
    const withCredentials = await api.request('POST', '/api/webhooks', {
      body: { name: 'creds', url: 'https://user:pa55word@siem.example.com/hook' },
    });
    expect(withCredentials.status).toBe(400);
    expect(withCredentials.text).not.toContain('pa55word');
    expect(withCredentials.body.details[0].field).toBe('body.url');
    const missing = await api.request(
      'POST',
      '/api/webhooks/deliveries/00000000-0000-0000-0000-000000000000/redeliver',
    );
    expect(missing.status).toBe(404);
  });
});

describe('metrics', () => {
  it('the API /metrics needs the token and carries the process and Warden metrics', async () => {
    const open = await fetch(`${api.baseUrl}/metrics`);
    expect(open.status).toBe(401);
    expect(open.headers.get('x-request-id')).toMatch(/^req-/);
    const wrong = await fetch(`${api.baseUrl}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const res = await fetch(`${api.baseUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('warden_reviews_pending 0');
    expect(text).toContain('# TYPE warden_process_cpu_seconds_total counter');
    expect(text).toContain('# TYPE warden_policy_decide_seconds histogram');
    expect(api.logs.join('')).not.toContain(METRICS_TOKEN);
  });

  it('the gateway/agent metrics server: token, /healthz, nothing else', async () => {
    const server = await serveMetrics({ host: '127.0.0.1', port: 0 }, { token: METRICS_TOKEN });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('warden_sessions_active');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
