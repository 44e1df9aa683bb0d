import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(async () => {
  await api?.close();
});

describe('/api/openapi.json', () => {
  it('is public and lists every resource route with its methods', async () => {
    const res = await api.request('GET', '/api/openapi.json', { token: null });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const paths: Record<string, Record<string, unknown>> = {};
    for (const [path, ops] of Object.entries<Record<string, unknown>>(res.body.paths)) {
      paths[path.length > 1 ? path.replace(/\/$/, '') : path] = ops;
    }
    const expected: Record<string, string[]> = {
      '/api/connections': ['get', 'post'],
      '/api/connections/{ref}': ['delete', 'get', 'patch'],
      '/api/agents': ['get', 'post'],
      '/api/agents/{ref}': ['delete', 'get', 'patch'],
      '/api/agents/{ref}/rotate-key': ['post'],
      '/api/agents/{ref}/revoke': ['post'],
      '/api/users': ['get', 'post'],
      '/api/users/me': ['get'],
      '/api/users/{ref}': ['delete', 'get', 'patch'],
      '/api/api-keys': ['get', 'post'],
      '/api/api-keys/{id}': ['delete', 'get'],
      '/api/audit': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      expect(Object.keys(paths[path] ?? {}).sort(), path).toEqual(methods);
    }
    // Request and response schemas come from the same definitions that validate.
    const create: any = paths['/api/connections']!.post;
    expect(create.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['name', 'type', 'agent', 'config']),
    );
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['201', '400', '403', '409']));
    const secretRef = create.responses['201'].content['application/json'].schema.properties.secrets;
    expect(JSON.stringify(secretRef)).not.toContain('ciphertext');
    const audit: any = paths['/api/audit']!.get;
    expect(audit.parameters.map((p: any) => p.name)).toEqual(
      expect.arrayContaining(['action', 'targetType', 'targetId', 'actor', 'since', 'until', 'limit', 'offset']),
    );
  });
});
