import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
  await createAgent(api, 'default');
  await api.request('POST', '/api/groups', { body: { name: 'engineering' } });
});
afterAll(async () => {
  await api?.close();
});

const planted = (label: string) => `S3cr3t-${label}-${randomBytes(12).toString('hex')}`;

/** Everything that left the API or landed in the audit log, as one searchable text. */
async function everythingVisible() {
  const audit = await api.db.prisma.auditEntry.findMany();
  return {
    responses: api.responses.join('\n'),
    logs: api.logs.join('\n'),
    audit: JSON.stringify(audit, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
  };
}

describe('connection credentials', () => {
  it('never appear in a response, a log line or the audit log, but are sealed in the database', async () => {
    const pgPassword = planted('pg');
    const pgPassword2 = planted('pg2');
    const sshKey = [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      planted('sshkey'),
      randomBytes(48).toString('base64'),
      '-----END OPENSSH PRIVATE KEY-----',
      '',
    ].join('\n');
    const sshPassphrase = planted('pass');
    const sshPassphrase2 = planted('pass2');
    const httpAuth = `Bearer ${planted('http')}`;
    const secrets = [pgPassword, pgPassword2, sshKey, sshPassphrase, sshPassphrase2, httpAuth];
    const markers = [pgPassword, pgPassword2, sshKey.split('\n')[1]!, sshPassphrase, sshPassphrase2, httpAuth];

    const pg = await api.request('POST', '/api/connections', {
      body: {
        name: 'pg-prod',
        type: 'postgres',
        agent: 'default',
        config: { host: 'db', database: 'app', user: 'app', password: pgPassword },
        allowedGroups: ['engineering'],
      },
    });
    expect(pg.status).toBe(201);
    expect(pg.body.secrets).toEqual({ password: { source: 'stored' } });
    expect(pg.body.config).not.toHaveProperty('password');

    const ssh = await api.request('POST', '/api/connections', {
      body: {
        name: 'bastion',
        type: 'ssh',
        agent: 'default',
        config: {
          host: 'bastion',
          user: 'ops',
          privateKey: sshKey,
          passphrase: sshPassphrase,
          hostKeyFingerprint: 'SHA256:' + 'B'.repeat(43),
        },
      },
    });
    expect(ssh.status).toBe(201);
    expect(ssh.body.secrets).toEqual({ privateKey: { source: 'stored' }, passphrase: { source: 'stored' } });

    const http = await api.request('POST', '/api/connections', {
      body: {
        name: 'api',
        type: 'http',
        agent: 'default',
        config: { url: 'https://api.internal', authorization: httpAuth },
      },
    });
    expect(http.status).toBe(201);

    // A rejected request carrying a credential must not echo it either.
    const rejected = await api.request('POST', '/api/connections', {
      body: { name: 'bad', type: 'postgres', agent: 'default', config: { host: 'db', password: pgPassword2 } },
    });
    expect(rejected.status).toBe(400);
    const rejectedType = await api.request('POST', '/api/connections', {
      body: {
        name: 'bad',
        type: 'postgres',
        agent: 'default',
        config: { host: 'db', database: 'a', user: 'a', password: 42 },
      },
    });
    expect(rejectedType.status).toBe(400);
    expect(rejectedType.body.details.map((d: any) => d.field)).toEqual(['body.config.password']);
    const malformed = await api.request('POST', '/api/connections', {
      raw: `{"name":"bad","type":"postgres","config":{"password":"${pgPassword2}" `,
    });
    expect(malformed.status).toBe(400);

    const patchedPg = await api.request('PATCH', '/api/connections/pg-prod', {
      body: { description: 'rotated', config: { password: pgPassword2, port: 6432 } },
    });
    expect(patchedPg.status).toBe(200);
    expect(patchedPg.body.secrets).toEqual({ password: { source: 'stored' } });
    const patchedSsh = await api.request('PATCH', '/api/connections/bastion', {
      body: { config: { passphrase: sshPassphrase2 } },
    });
    expect(patchedSsh.status).toBe(200);

    // Every way of reading them back, for every role that can.
    const engineer = await createIdentity(api, 'uma', { groups: ['engineering'] });
    const auditor = await createIdentity(api, 'audrey', { role: 'auditor' });
    for (const token of [api.adminKey, auditor.token, engineer.token]) {
      expect((await api.request('GET', '/api/connections', { token })).status).toBe(200);
      expect((await api.request('GET', '/api/connections/pg-prod', { token })).status).toBe(200);
    }
    expect((await api.request('GET', '/api/connections/bastion')).status).toBe(200);
    expect((await api.request('GET', '/api/connections/api')).status).toBe(200);
    const audit = await api.request('GET', '/api/audit?targetType=connection', { token: auditor.token });
    expect(audit.body.items.map((e: any) => e.action).sort()).toEqual([
      'connection.create',
      'connection.create',
      'connection.create',
      'connection.update',
      'connection.update',
    ]);
    // The audit log still says which credential changed and how it is held.
    const pgUpdate = audit.body.items.find((e: any) => e.action === 'connection.update' && e.target.name === 'pg-prod');
    expect(pgUpdate.details.sensitiveFields).toEqual([{ field: 'password', source: 'stored' }]);
    expect(pgUpdate.details.config).toEqual({ port: 6432 });

    const visible = await everythingVisible();
    expect(visible.logs.length).toBeGreaterThan(1000); // the API did log these requests
    expect(visible.responses).toContain('"source":"stored"');
    expect(visible.audit).toContain('connection.update');
    for (const marker of markers) {
      expect(visible.responses.includes(marker), `response leaks ${marker}`).toBe(false);
      expect(visible.logs.includes(marker), `log leaks ${marker}`).toBe(false);
      expect(visible.audit.includes(marker), `audit leaks ${marker}`).toBe(false);
    }

    // The rows hold ciphertext (never the value) that the SecretBox opens.
    const rows = await api.db.prisma.connection.findMany({ orderBy: { name: 'asc' } });
    const rowText = JSON.stringify(rows);
    for (const secret of secrets) expect(rowText.includes(secret)).toBe(false);
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    const sealed = (name: string, field: string) => (byName[name]!.secrets as any)[field];
    expect(sealed('pg-prod', 'password')).toEqual({ source: 'stored', ciphertext: expect.stringMatching(/^v1\./) });
    expect(api.secretBox.open(sealed('pg-prod', 'password').ciphertext, 'password')).toBe(pgPassword2);
    expect(api.secretBox.open(sealed('bastion', 'privateKey').ciphertext, 'privateKey')).toBe(sshKey);
    expect(api.secretBox.open(sealed('bastion', 'passphrase').ciphertext, 'passphrase')).toBe(sshPassphrase2);
    expect(api.secretBox.open(sealed('api', 'authorization').ciphertext, 'authorization')).toBe(httpAuth);
    // Sealed for its field: the ciphertext cannot be replayed as another field.
    expect(() => api.secretBox.open(sealed('pg-prod', 'password').ciphertext, 'privateKey')).toThrow();
    for (const row of rows) {
      for (const stored of Object.values(row.secrets as Record<string, { ciphertext?: string }>)) {
        expect(stored.ciphertext).toEqual(expect.any(String));
        expect(visible.responses.includes(stored.ciphertext!)).toBe(false);
      }
      for (const field of ['password', 'privateKey', 'passphrase', 'authorization']) {
        expect(row.config, `${row.name}.config`).not.toHaveProperty(field);
      }
    }
  });

  it('removes a stored credential when patched to null', async () => {
    const value = planted('gone');
    await api.request('POST', '/api/connections', {
      body: {
        name: 'pg-temp',
        type: 'postgres',
        agent: 'default',
        config: { host: 'h', database: 'd', user: 'u', password: value },
      },
    });
    const patched = await api.request('PATCH', '/api/connections/pg-temp', { body: { config: { password: null } } });
    expect(patched.body.secrets).toEqual({});
    const row = await api.db.prisma.connection.findUniqueOrThrow({ where: { name: 'pg-temp' } });
    expect(row.secrets).toEqual({});
    const entries = await api.db.prisma.auditEntry.findMany({
      where: { targetName: 'pg-temp' },
      orderBy: { id: 'asc' },
    });
    expect(entries.map((e) => (e.details as any).sensitiveFields)).toEqual([
      [{ field: 'password', source: 'stored' }],
      [{ field: 'password', source: 'removed' }],
    ]);
  });
});
