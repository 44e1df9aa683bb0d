// Review notifications: a review created anywhere (here: as a gateway would, through its own bus)
// reaches the rule's webhook as a Slack-compatible message signed with the rule's secret, and a
// failed delivery is retried.
import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisControlBus } from '@warden/control-bus';
import { ReviewService } from '@warden/reviews';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `warden-test:${randomBytes(6).toString('hex')}:`;
const SECRET = 'hook-signing-secret';

interface Received {
  at: number;
  headers: Record<string, string | string[] | undefined>;
  raw: string;
}

let api: TestApi;
let apiBus: RedisControlBus;
let gatewayBus: RedisControlBus;
let receiver: Server;
let hookUrl: string;
const received: Received[] = [];
/** Answers for the next requests, then 200. */
const answers: number[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answers.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/T0/B0/token`;
  apiBus = new RedisControlBus({ url: REDIS_URL, prefix });
  gatewayBus = new RedisControlBus({ url: REDIS_URL, prefix });
  await Promise.all([apiBus.ready(), gatewayBus.ready()]);
  api = await startTestApi({ bus: apiBus, config: { publicUrl: 'https://warden.example.com' } });
  await createAgent(api, 'edge');
  await api.request('POST', '/api/groups', { body: { name: 'dba' } });
  await api.request('POST', '/api/groups', { body: { name: 'eng' } });
  await api.request('POST', '/api/connections', {
    body: {
      name: 'pg-prod',
      type: 'postgres',
      agent: 'edge',
      config: { host: 'db', database: 'app', user: 'app' },
      allowedGroups: ['eng'],
    },
  });
  const policy = await api.request('POST', '/api/policies', {
    body: {
      name: 'reviews',
      kind: 'review',
      connections: ['pg-prod'],
      rules: {
        reviews: [
          {
            type: 'require_review',
            name: 'deletes',
            match: { kinds: ['delete'] },
            approverGroups: ['dba'],
            notify: { webhookUrl: hookUrl, secret: SECRET },
          },
          { type: 'require_review', name: 'quiet', match: { kinds: ['truncate'] }, approverGroups: ['dba'] },
        ],
      },
    },
  });
  expect(policy.status).toBe(201);
});
afterAll(async () => {
  await api?.close();
  await Promise.all([apiBus?.close(), gatewayBus?.close()]);
  receiver?.close();
});

async function waitFor<T>(probe: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('review notifications', () => {
  it('a review made by a gateway is posted to the rule webhook, signed, and retried after a 500', async () => {
    const alice = await createIdentity(api, 'alice', { groups: [] });
    const connection = await api.db.prisma.connection.findUniqueOrThrow({ where: { name: 'pg-prod' } });
    const gateway = new ReviewService(api.db.prisma, gatewayBus, { actor: 'gateway:test' });
    answers.push(500);
    const review = await gateway.createStatementReview({
      requester: { identityId: alice.id },
      connectionId: connection.id,
      requirement: {
        rule: 'deletes',
        approverGroups: ['dba'],
        approvals: 1,
        allowRequesterGroup: true,
        timeoutSeconds: 300,
        requireJustification: false,
        notify: true,
      },
      statement: 'DELETE FROM customers WHERE id = $1',
      params: ['42'],
      justification: 'GDPR erasure request 311',
    });
    const [first, second] = await waitFor(() => (received.length >= 2 ? received.slice(0, 2) : undefined));
    // The first answer was a 500: the job tried again after its backoff, with the same message.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(900);
    expect(second!.raw).not.toBe('');
    for (const delivery of [first!, second!]) {
      expect(delivery.headers['content-type']).toBe('application/json');
      const timestamp = delivery.headers['x-warden-timestamp'] as string;
      expect(timestamp).toMatch(/^\d+$/);
      const expected = 'sha256=' + createHmac('sha256', SECRET).update(delivery.raw).digest('hex');
      expect(delivery.headers['x-warden-signature']).toBe(expected);
      const body = JSON.parse(delivery.raw);
      const url = `https://warden.example.com/reviews/${review.id}`;
      expect(body.text).toBe(
        `Review needed: alice wants to run a statement on pg-prod (rule deletes). Approve or deny: ${url}`,
      );
      expect(JSON.stringify(body.blocks)).toContain('DELETE FROM customers WHERE id = $1');
      expect(body.blocks.at(-1)).toEqual({
        type: 'actions',
        elements: [{ type: 'button', text: { type: 'plain_text', text: 'Review in Warden' }, url }],
      });
      expect(body.warden).toMatchObject({
        reviewId: review.id,
        requester: { id: alice.id, name: 'alice' },
        connection: { name: 'pg-prod' },
        statement: 'DELETE FROM customers WHERE id = $1',
        parameters: ['42'],
        justification: 'GDPR erasure request 311',
        url,
        timestamp: Number(timestamp),
      });
    }
    // One notification per review, though every API instance hears review.created.
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toHaveLength(2);
    expect(api.logs.join('\n')).not.toContain('/hooks/T0/B0/token');
    expect(api.logs.join('\n')).not.toContain(SECRET);
  });

  it('access requests notify too; a rule without a webhook does not', async () => {
    received.length = 0;
    const res = await api.request('POST', '/api/policies', {
      body: {
        name: 'jit',
        kind: 'review',
        connections: ['pg-prod'],
        rules: {
          reviews: [{ type: 'access_review', name: 'jit', approverGroups: ['dba'], notify: { webhookUrl: hookUrl } }],
        },
      },
    });
    expect(res.status).toBe(201);
    const bob = await createIdentity(api, 'bob', { groups: ['eng'] });
    const asked = await api.request('POST', '/api/access-requests', {
      token: bob.token,
      body: { connection: 'pg-prod', durationSeconds: 900 },
    });
    expect(asked.status).toBe(201);
    const delivery = await waitFor(() => received[0]);
    expect(delivery.headers['x-warden-signature']).toBeUndefined(); // no secret on this rule
    expect(JSON.parse(delivery.raw).text).toMatch(/^Review needed: bob asks for access to pg-prod for 900 seconds/);

    const connection = await api.db.prisma.connection.findUniqueOrThrow({ where: { name: 'pg-prod' } });
    const quiet = await new ReviewService(api.db.prisma, gatewayBus).createStatementReview({
      requester: { identityId: bob.id },
      connectionId: connection.id,
      requirement: {
        rule: 'quiet',
        approverGroups: ['dba'],
        approvals: 1,
        allowRequesterGroup: true,
        timeoutSeconds: 300,
        requireJustification: false,
        notify: false,
      },
      statement: 'TRUNCATE t',
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(received.map((r) => JSON.parse(r.raw).warden.reviewId)).not.toContain(quiet.id);
    expect(received).toHaveLength(1);
  });
});
