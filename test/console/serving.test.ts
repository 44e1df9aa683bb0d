import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_DIST, consolePlugin } from '../../apps/api/src/console/index.js';
import { REVIEW_STREAM_KEEPALIVE_MS } from '../../apps/api/src/routes/reviews/stream.js';
import type { ApiInstance } from '../../apps/api/src/types.js';
import { createIdentity, startTestApi, type TestApi } from '../support/api.js';
import { run } from '../support/data-path.js';

// How the API serves the built console: same origin, deep links answered with the page, hashed
// assets cached for good, the page itself revalidated, and the API's own paths never swallowed.
let api: TestApi;

beforeAll(async () => {
  const build = await run(process.execPath, ['apps/console/scripts/build-if-stale.mjs'], { timeoutMs: 120_000 });
  expect(build.code, build.stderr + build.stdout).toBe(0);
  api = await startTestApi();
}, 180_000);

afterAll(async () => {
  await api?.close();
});

const get = (p: string, init?: RequestInit) => fetch(api.baseUrl + p, init);

describe('the console on the API origin', () => {
  it('serves index.html at / and for console routes (SPA fallback), never cached, with a strict CSP', async () => {
    const index = readFileSync(path.join(CONSOLE_DIST, 'index.html'), 'utf8');
    for (const p of ['/', '/sessions', '/sessions/6f1c2a4e-0000-4000-8000-000000000000', '/reviews/abc?x=1']) {
      const res = await get(p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toBe(index);
    }
    expect((await get('/', { method: 'HEAD' })).status).toBe(200);
  });

  it('caches hashed assets for a year and answers a missing asset with 404, not the page', async () => {
    const index = await (await get('/')).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index)?.[1];
    expect(script).toBeTruthy();
    const res = await get(script!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const missing = await get('/assets/index-doesnotexist.js');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('leaves /api, /docs and /metrics to the API and refuses paths outside the build', async () => {
    const unknown = await api.request('GET', '/api/nothing-here');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ statusCode: 404, message: 'no route for GET /api/nothing-here' });
    const docs = await get('/docs/');
    expect(await docs.text()).not.toContain('<div id="root">');
    const metrics = await get('/metrics');
    expect(await metrics.text()).not.toContain('<div id="root">');
    for (const p of ['/..%2f..%2fpackage.json', '/assets/..%2f..%2f..%2fpackage.json', '/%2e%2e/%2e%2e/package.json']) {
      const res = await get(p);
      expect(await res.text(), p).not.toContain('"packageManager"');
    }
  });

  it('the review stream needs a token, and ends once the token stops working', async () => {
    expect((await get('/api/reviews/stream')).status).toBe(401);
    const bob = await createIdentity(api, 'bob', { role: 'user' });
    const stream = await fetch(api.baseUrl + '/api/reviews/stream', {
      headers: { authorization: `Bearer ${bob.token}` },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('cache-control')).toBe('no-cache, no-transform');
    const blocked = await api.request('POST', '/api/identities/bob/block', { body: { reason: 'test' } });
    expect(blocked.status, blocked.text).toBe(200);
    // Re-checked at the next keep-alive (15 s): the stream then closes instead of going on.
    const started = Date.now();
    const body = await stream.text();
    expect(Date.now() - started).toBeLessThan(REVIEW_STREAM_KEEPALIVE_MS + 5_000);
    expect(body).toContain('event: ready');
  }, 40_000);

  it('shows a clear page when the console has not been built', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'warden-console-'));
    const app = Fastify() as unknown as ApiInstance;
    await app.register(consolePlugin, { root: empty });
    try {
      const res = await app.inject({ method: 'GET', url: '/sessions' });
      expect(res.statusCode).toBe(503);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toContain('The Warden web console has not been built');
      expect(res.body).toContain('pnpm@10.34.8 generate');
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
