import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { RedisControlBus } from '@warden/control-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentity } from '../support/api.js';
import { redisUrl, startDataPath, type DataPath } from '../support/data-path.js';

// The gateway's half of containment: messages on the control bus (Redis, as between
// replicas) end the live Postgres sessions they name, with 57P01, within a second.
let dp: DataPath;
let bus: RedisControlBus;

beforeAll(async () => {
  const prefix = `warden-test-${randomBytes(4).toString('hex')}`;
  dp = await startDataPath({ redisPrefix: prefix });
  bus = new RedisControlBus({ url: redisUrl, prefix: `${prefix}:bus:` });
  await bus.ready();
}, 120_000);

afterAll(async () => {
  await bus?.close();
  await dp?.close();
});

async function connect(token = dp.adminKey): Promise<{ client: pg.Client; ended: Promise<Error> }> {
  const client = new pg.Client({ connectionString: dp.url(token) });
  const ended = new Promise<Error>((resolve) => client.on('error', resolve));
  await client.connect();
  await client.query('SELECT 1');
  return { client, ended };
}

async function liveSessionId(identityName?: string): Promise<string> {
  const rows = await dp.api.db.prisma.session.findMany({
    where: { status: 'active', ...(identityName ? { identity: { name: identityName } } : {}) },
    orderBy: { startedAt: 'desc' },
  });
  return rows[0]!.id;
}

describe('containment through the control bus', () => {
  it('session.kill ends that session with 57P01 and leaves the others running', async () => {
    const victim = await connect();
    const sessionId = await liveSessionId();
    const bystander = await connect();
    const started = Date.now();
    await bus.publish('session.kill', { sessionId, reason: 'incident 42', by: { id: 'x', name: 'alice' } });
    const error = (await victim.ended) as Error & { code?: string };
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.code).toBe('57P01');
    expect(error.message).toContain('incident 42');
    expect((await bystander.client.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
    await bystander.client.end();
    await expect
      .poll(async () => (await dp.api.db.prisma.session.findUnique({ where: { id: sessionId } }))?.status)
      .toBe('killed');
  });

  it('identity.blocked ends every live session of that identity only', async () => {
    const mallory = await createIdentity(dp.api, 'mallory', { role: 'admin' });
    const a = await connect(mallory.token);
    const b = await connect(mallory.token);
    const other = await connect();
    const started = Date.now();
    await bus.publish('identity.blocked', { identityId: mallory.id, reason: 'compromised laptop' });
    const errors = (await Promise.all([a.ended, b.ended])) as (Error & { code?: string })[];
    expect(Date.now() - started).toBeLessThan(1000);
    expect(errors.map((e) => e.code)).toEqual(['57P01', '57P01']);
    expect(errors[0]!.message).toContain('compromised laptop');
    expect((await other.client.query('SELECT 3 AS n')).rows).toEqual([{ n: 3 }]);
    await other.client.end();
  });
});
