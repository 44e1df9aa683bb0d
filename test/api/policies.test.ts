import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
  await createAgent(api, 'edge');
});
afterAll(async () => {
  await api?.close();
});

const pg = { host: '10.0.0.5', database: 'app', user: 'app' };
const readOnly = { guardrails: [{ type: 'read_only', name: 'ro', message: 'this connection is read-only' }] };

describe('/api/policies', () => {
  it('creates, lists, updates (bumping the version) and deletes a policy', async () => {
    const created = await api.request('POST', '/api/policies', {
      body: { name: 'ro-prod', kind: 'guardrail', description: 'read only', rules: readOnly },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'ro-prod',
      kind: 'guardrail',
      enabled: true,
      version: 1,
      connections: [],
    });
    expect((await api.request('GET', '/api/policies')).body.map((p: any) => p.name)).toContain('ro-prod');
    const patched = await api.request('PATCH', '/api/policies/ro-prod', { body: { enabled: false } });
    expect(patched.body).toMatchObject({ enabled: false, version: 2 });
    expect((await api.request('DELETE', '/api/policies/ro-prod')).status).toBe(204);
    expect((await api.request('GET', '/api/policies/ro-prod')).status).toBe(404);
  });

  it('validates rules with the policy engine and reports the failing fields', async () => {
    const badKind = await api.request('POST', '/api/policies', {
      body: {
        name: 'bad1',
        kind: 'guardrail',
        rules: { guardrails: [{ type: 'deny_pattern', name: 'x', message: 'm', pattern: '(' }] },
      },
    });
    expect(badKind.status).toBe(400);
    expect(badKind.body.details[0].field).toBe('body.rules.guardrails.0.pattern');
    const wrongSection = await api.request('POST', '/api/policies', {
      body: { name: 'bad2', kind: 'masking', rules: readOnly },
    });
    expect(wrongSection.status).toBe(400);
    expect(wrongSection.body.details).toEqual([
      { field: 'body.rules.guardrails', message: 'a masking policy holds only "masking"' },
    ]);
    const unknownType = await api.request('POST', '/api/policies', {
      body: { name: 'bad3', kind: 'guardrail', rules: { guardrails: [{ type: 'nope', name: 'x' }] } },
    });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.details.length).toBeGreaterThan(0);
    const badReview = await api.request('POST', '/api/policies', {
      body: { name: 'r', kind: 'review', rules: { reviews: [{ type: 'require_review', name: 'r' }] } },
    });
    expect(badReview.status).toBe(400);
    expect(badReview.body.details.map((d: any) => d.field)).toEqual([
      'body.rules.reviews.0.match',
      'body.rules.reviews.0.approverGroups',
    ]);
  });

  it('gives new connections the default rule pack unless told otherwise, and audits the choice', async () => {
    const withDefaults = await api.request('POST', '/api/connections', {
      body: { name: 'pg-default', type: 'postgres', agent: 'edge', config: pg },
    });
    expect(withDefaults.status).toBe(201);
    expect(withDefaults.body.policies.map((p: any) => p.name)).toEqual(['default-guardrails', 'default-masking']);
    const guardrails = await api.request('GET', '/api/policies/default-guardrails');
    expect(guardrails.body.rules.guardrails.map((r: any) => r.name)).toContain('default.destructive-ddl');
    expect(guardrails.body.connections.map((c: any) => c.name)).toEqual(['pg-default']);

    const without = await api.request('POST', '/api/connections', {
      body: { name: 'pg-bare', type: 'postgres', agent: 'edge', config: pg, policies: [] },
    });
    expect(without.body.policies).toEqual([]);
    const audit = await api.request('GET', '/api/audit?action=connection.create&targetId=' + without.body.id);
    expect(audit.body.items[0].details).toMatchObject({ policies: [], defaultPolicies: false });

    const attached = await api.request('PATCH', '/api/connections/pg-bare', {
      body: { policies: ['default-guardrails'] },
    });
    expect(attached.body.policies.map((p: any) => p.name)).toEqual(['default-guardrails']);
    const unknown = await api.request('PATCH', '/api/connections/pg-bare', { body: { policies: ['nope'] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.details[0].field).toBe('body.policies');
  });

  it('attaches a policy to connections by name', async () => {
    await api.request('POST', '/api/connections', {
      body: { name: 'pg-ro', type: 'postgres', agent: 'edge', config: pg, policies: [] },
    });
    const created = await api.request('POST', '/api/policies', {
      body: { name: 'ro', kind: 'guardrail', rules: readOnly, connections: ['pg-ro'] },
    });
    expect(created.body.connections.map((c: any) => c.name)).toEqual(['pg-ro']);
    expect((await api.request('GET', '/api/connections/pg-ro')).body.policies.map((p: any) => p.name)).toEqual(['ro']);
  });

  it('lets only admins change policies', async () => {
    const auditor = await createIdentity(api, 'pol-auditor', { role: 'auditor' });
    expect((await api.request('GET', '/api/policies', { token: auditor.token })).status).toBe(200);
    const res = await api.request('POST', '/api/policies', {
      token: auditor.token,
      body: { name: 'x', kind: 'guardrail', rules: readOnly },
    });
    expect(res.status).toBe(403);
  });
});
