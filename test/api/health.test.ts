import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.js';
import { dropDatabase } from '../support/postgres.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

describe('health and docs', () => {
  it('/healthz and /readyz answer without credentials', async () => {
    expect(await api.request('GET', '/healthz', { token: null })).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(await api.request('GET', '/readyz', { token: null })).toMatchObject({
      status: 200,
      body: { status: 'ready', database: 'ok' },
    });
  });

  it('serves the docs UI at /docs', async () => {
    const res = await fetch(`${api.baseUrl}/docs/`, { redirect: 'follow' });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/swagger/i);
  });

  it('/readyz reports 503 when the database is unreachable', async () => {
    // Dropping the control-plane database under the running API (last test of the file).
    await dropDatabase(new URL(api.databaseUrl).pathname.slice(1));
    const res = await api.request('GET', '/readyz', { token: null });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', database: 'unreachable' });
  });
});
