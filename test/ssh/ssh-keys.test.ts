import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';

// The SSH public key registration API (keys log identities in to the gateway's SSH listener).
let api: TestApi;
let user: { id: string; token: string };
const ed25519 = (seed: string) => {
  const blob = Buffer.concat([
    Buffer.from([0, 0, 0, 11]),
    Buffer.from('ssh-ed25519'),
    Buffer.from([0, 0, 0, 32]),
    Buffer.alloc(32, seed),
  ]);
  return `ssh-ed25519 ${blob.toString('base64')} someone@laptop`;
};

beforeAll(async () => {
  api = await startTestApi();
  user = await createIdentity(api, 'uma', { role: 'user' });
}, 120_000);

afterAll(async () => {
  await api?.close();
});

describe('/api/ssh-keys', () => {
  it('registers, lists, refuses duplicates and bad keys, and deletes', async () => {
    const created = await api.request('POST', '/api/ssh-keys', {
      token: user.token,
      body: { name: 'laptop', publicKey: ed25519('a') },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({ name: 'laptop', identity: { name: 'uma' } });
    expect(created.body.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(created.body.publicKey).not.toContain('someone@laptop');

    const again = await api.request('POST', '/api/ssh-keys', { body: { name: 'dup', publicKey: ed25519('a') } });
    expect(again.status).toBe(409);

    for (const publicKey of ['not a key', 'ssh-dss AAAAB3NzaC1kc3M=', 'ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB']) {
      const bad = await api.request('POST', '/api/ssh-keys', { token: user.token, body: { name: 'x', publicKey } });
      expect(bad.status, publicKey).toBe(400);
      expect(bad.body.details?.[0]?.field ?? bad.text).toContain('body.publicKey');
    }
    const forOther = await api.request('POST', '/api/ssh-keys', {
      token: user.token,
      body: { name: 'x', publicKey: ed25519('b'), identity: 'admin' },
    });
    expect(forOther.status).toBe(403);

    const mine = await api.request('GET', '/api/ssh-keys', { token: user.token });
    expect(mine.body.map((k: { id: string }) => k.id)).toEqual([created.body.id]);
    const adminAdds = await api.request('POST', '/api/ssh-keys', {
      body: { name: 'ops', publicKey: ed25519('c'), identity: 'uma' },
    });
    expect(adminAdds.status).toBe(201);
    expect((await api.request('GET', '/api/ssh-keys?identity=uma')).body).toHaveLength(2);

    const removed = await api.request('DELETE', `/api/ssh-keys/${created.body.id}`, { token: user.token });
    expect(removed.status).toBe(204);
    expect((await api.request('GET', `/api/ssh-keys/${created.body.id}`)).status).toBe(404);
    const audit = await api.db.prisma.auditEntry.findMany({ where: { action: { startsWith: 'ssh_key.' } } });
    expect(audit.map((a) => a.action).sort()).toEqual(['ssh_key.create', 'ssh_key.create', 'ssh_key.delete']);
  });
});

describe('ssh connection settings', () => {
  const fields = (res: { body: { details?: { field: string }[] } }) =>
    (res.body.details ?? []).map((d) => d.field).sort();

  it('needs a credential and a pinned host key, and validates options.ssh', async () => {
    await createAgent(api, 'edge');
    const base = { name: 'box', type: 'ssh', agent: 'edge' };
    const bare = await api.request('POST', '/api/connections', { body: { ...base, config: { host: 'h', user: 'u' } } });
    expect(bare.status).toBe(400);
    expect(fields(bare)).toEqual(['body.config.hostKeyFingerprint', 'body.config.password']);

    const badKnownHosts = await api.request('POST', '/api/connections', {
      body: { ...base, config: { host: 'h', user: 'u', password: 'env:BOX_PASSWORD', knownHosts: 'just-a-host' } },
    });
    expect(badKnownHosts.status).toBe(400);
    expect(fields(badKnownHosts)).toEqual(['body.config.knownHosts']);

    const badOptions = await api.request('POST', '/api/connections', {
      body: {
        ...base,
        config: { host: 'h', user: 'u', password: 'env:BOX_PASSWORD', hostKeyFingerprint: 'SHA256:' + 'C'.repeat(43) },
        options: { ssh: { allowSftp: 'yes', shell: true } },
      },
    });
    expect(badOptions.status).toBe(400);
    expect(fields(badOptions)).toEqual(expect.arrayContaining(['body.options.ssh.allowSftp']));

    const ok = await api.request('POST', '/api/connections', {
      body: {
        ...base,
        config: {
          host: 'h',
          user: 'u',
          password: 'env:BOX_PASSWORD',
          knownHosts: 'h ssh-ed25519 AAAAC3NzaC1lZDI1NTE5',
        },
        options: { ssh: { allowSftp: true } },
      },
    });
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.options).toEqual({ ssh: { allowSftp: true } });
    expect(ok.body.secrets).toEqual({ password: { source: 'env', ref: 'env:BOX_PASSWORD' } });
  });
});
