// The reviews API: review rules through /api/policies, the inbox, one review, approve/deny, access
// requests and grants. The API publishes on Redis; `gateway` is a second bus and ReviewService on the
// same prefix, standing in for a gateway replica that creates reviews and waits for decisions.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisControlBus, type Topic, type TopicMessages } from '@warden/control-bus';
import { compilePolicy, decide, mergePolicyRules, type PolicyRules } from '@warden/policy';
import { ReviewService, type StatementParam } from '@warden/reviews';
import { createAgent, createIdentity, startTestApi, type TestApi } from '../support/api.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `warden-test:${randomBytes(6).toString('hex')}:`;

let api: TestApi;
let apiBus: RedisControlBus;
let gatewayBus: RedisControlBus;
let gateway: ReviewService;
let connectionId: string;
type Who = Awaited<ReturnType<typeof createIdentity>>;
const u: Record<string, Who> = {};

const deletes = {
  type: 'require_review',
  name: 'deletes',
  match: { kinds: ['delete'] },
  approverGroups: ['dba', 'sre'],
  notify: { webhookUrl: 'https://hooks.example.com/services/T0/B0/xyz', secret: 'notify-secret-value' },
};

beforeAll(async () => {
  apiBus = new RedisControlBus({ url: REDIS_URL, prefix });
  gatewayBus = new RedisControlBus({ url: REDIS_URL, prefix });
  await Promise.all([apiBus.ready(), gatewayBus.ready()]);
  api = await startTestApi({ bus: apiBus, config: { publicUrl: 'https://warden.example.com' } });
  await createAgent(api, 'edge');
  for (const g of ['eng', 'dba', 'sre']) await api.request('POST', '/api/groups', { body: { name: g } });
  const conn = await api.request('POST', '/api/connections', {
    body: {
      name: 'pg',
      type: 'postgres',
      agent: 'edge',
      config: { host: '10.0.0.5', database: 'app', user: 'app' },
      policies: [],
      allowedGroups: ['eng', 'dba', 'sre'],
    },
  });
  connectionId = conn.body.id;
  u.alice = await createIdentity(api, 'alice', { groups: ['eng'] });
  u.bob = await createIdentity(api, 'bob', { groups: ['dba'] });
  u.carol = await createIdentity(api, 'carol', { groups: ['dba', 'eng'] });
  u.dave = await createIdentity(api, 'dave', { groups: ['sre'] });
  u.erin = await createIdentity(api, 'erin', { groups: ['eng'] });
  u.olga = await createIdentity(api, 'olga', { groups: [] });
  u.audrey = await createIdentity(api, 'audrey', { role: 'auditor' });
  gateway = new ReviewService(api.db.prisma, gatewayBus, { actor: 'gateway:test' });
});
afterAll(async () => {
  await api?.close();
  await Promise.all([apiBus?.close(), gatewayBus?.close()]);
});

/** The next message on `topic` matching `where`, as a gateway replica would receive it. */
function heard<T extends Topic>(topic: T, where: (m: TopicMessages[T]) => boolean = () => true) {
  return new Promise<TopicMessages[T]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${topic} message`)), 3000);
    const off = gatewayBus.subscribe(topic, (m) => {
      if (!where(m)) return;
      clearTimeout(timer);
      off();
      resolve(m);
    });
  });
}

/** What the gateway does on a review decision: the policy of the connection as it merges it, then a review. */
async function held(sql: string, params: StatementParam[] = [], requester = u.alice!) {
  const policies = await api.db.prisma.policy.findMany({
    where: { enabled: true, connections: { some: { id: connectionId } } },
    orderBy: { name: 'asc' },
  });
  const policy = compilePolicy(mergePolicyRules(policies.map((p) => p.rules as PolicyRules)), 'test', {
    reviews: 'hold',
  });
  const decision = decide(policy, sql);
  if (decision.action !== 'review') throw new Error(`expected a review decision, got ${decision.action}`);
  return gateway.createStatementReview({
    requester: { identityId: requester.id },
    connectionId,
    requirement: decision.review,
    statement: sql,
    params,
  });
}

const as = (who: string) => ({ token: u[who]!.token });
const approve = (id: string, who: string, comment?: string) =>
  api.request('POST', `/api/reviews/${id}/approve`, { ...as(who), body: comment ? { comment } : {} });

describe('review policies', () => {
  it('validates review rules with field paths', async () => {
    const bad = await api.request('POST', '/api/policies', {
      body: {
        name: 'bad-review',
        kind: 'review',
        rules: {
          reviews: [
            { type: 'require_review', name: 'x', match: { kinds: ['delete'] }, approverGroups: [], approvals: 0 },
            { ...deletes, notify: { webhookUrl: 'not a url' } },
            { type: 'require_review', name: 'y', match: { pattern: '(' }, approverGroups: ['dba'] },
          ],
        },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: any) => d.field)).toEqual(
      expect.arrayContaining([
        'body.rules.reviews.0.approverGroups',
        'body.rules.reviews.0.approvals',
        'body.rules.reviews.1.notify.webhookUrl',
      ]),
    );
    const regex = await api.request('POST', '/api/policies', {
      body: {
        name: 'bad-regex',
        kind: 'review',
        rules: { reviews: [{ type: 'require_review', name: 'y', match: { pattern: '(' }, approverGroups: ['dba'] }] },
      },
    });
    expect(regex.body.details).toEqual([
      { field: 'body.rules.reviews.0.match.pattern', message: expect.stringContaining('Invalid regular expression') },
    ]);
    const wrongSection = await api.request('POST', '/api/policies', {
      body: { name: 'bad-section', kind: 'review', rules: { guardrails: [] } },
    });
    expect(wrongSection.body.details).toEqual([
      { field: 'body.rules.guardrails', message: 'a review policy holds only "reviews"' },
    ]);
  });

  it('stores webhook secrets sealed, never returns them, and keeps them when a rule is sent back without one', async () => {
    const created = await api.request('POST', '/api/policies', {
      body: { name: 'reviews', kind: 'review', rules: { reviews: [deletes] }, connections: ['pg'] },
    });
    expect(created.status).toBe(201);
    expect(created.body.rules.reviews[0].notify).toEqual({ webhookUrl: deletes.notify.webhookUrl });
    const stored = await api.db.prisma.policy.findUniqueOrThrow({ where: { id: created.body.id } });
    const sealed = (stored.rules as any).reviews[0].notify.secret as string;
    expect(sealed).toMatch(/^v1\./);
    expect(JSON.stringify(stored.rules)).not.toContain('notify-secret-value');

    const rules = (await api.request('GET', '/api/policies/reviews')).body.rules;
    const patched = await api.request('PATCH', '/api/policies/reviews', { body: { rules } });
    expect(patched.status).toBe(200);
    const after = await api.db.prisma.policy.findUniqueOrThrow({ where: { id: created.body.id } });
    expect((after.rules as any).reviews[0].notify.secret).toBe(sealed);
    expect(api.responses.join('\n')).not.toContain('notify-secret-value');
    expect(api.logs.join('\n')).not.toContain('notify-secret-value');
    const audit = await api.request('GET', '/api/audit?action=policy.create&targetId=' + created.body.id);
    expect(JSON.stringify(audit.body)).not.toContain('notify-secret-value');
  });

  it('announces policy changes to the gateways of the attached connections', async () => {
    const changed = heard('policy.changed');
    await api.request('PATCH', '/api/policies/reviews', { body: { description: 'held deletes' } });
    expect(await changed).toEqual({ connectionIds: [connectionId] });
  });
});

describe('the inbox and one review', () => {
  it('shows a pending review to eligible approvers only, and to the requester under mine=true', async () => {
    const review = await held('DELETE FROM users WHERE id = $1', ['7']);
    const inbox = async (who: string) =>
      (await api.request('GET', '/api/reviews', as(who))).body.map((r: any) => r.id) as string[];
    expect(await inbox('bob')).toContain(review.id);
    expect(await inbox('dave')).toContain(review.id);
    expect(await inbox('alice')).not.toContain(review.id);
    expect(await inbox('olga')).not.toContain(review.id);
    const mine = await api.request('GET', '/api/reviews?mine=true', as('alice'));
    expect(mine.body.map((r: any) => r.id)).toContain(review.id);
  });

  it('one review says exactly what would run, who asked, where, and who may see it', async () => {
    const review = await held('DELETE FROM orders WHERE id = $1 AND note = $2', ['42', null]);
    const got = await api.request('GET', `/api/reviews/${review.id}`, as('bob'));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: review.id,
      kind: 'statement',
      status: 'pending',
      rule: 'deletes',
      statement: 'DELETE FROM orders WHERE id = $1 AND note = $2',
      parameters: ['42', null],
      statementHash: review.statementHash,
      requester: { id: u.alice!.id, name: 'alice' },
      connection: { id: connectionId, name: 'pg' },
      approverGroups: ['dba', 'sre'],
      requiredApprovals: 1,
      approvals: 0,
      decisions: [],
      canDecide: true,
      url: `https://warden.example.com/reviews/${review.id}`,
    });
    expect((await api.request('GET', `/api/reviews/${review.id}`, as('alice'))).body.canDecide).toBe(false);
    expect((await api.request('GET', `/api/reviews/${review.id}`, as('audrey'))).status).toBe(200);
    expect((await api.request('GET', `/api/reviews/${review.id}`)).status).toBe(200); // admin
    expect((await api.request('GET', `/api/reviews/${review.id}`, as('olga'))).status).toBe(403);
    // Deciding is refused the same way, without naming the approver groups to someone outside them.
    const outsider = await approve(review.id, 'olga');
    expect(outsider.status).toBe(403);
    expect(outsider.body.message).not.toMatch(/dba|sre/);
    expect((await api.request('GET', '/api/reviews/00000000-0000-0000-0000-000000000000', as('bob'))).status).toBe(404);
    expect((await api.request('GET', '/api/reviews/nope', as('bob'))).status).toBe(404);
  });
});

describe('deciding', () => {
  it('the requester cannot approve their own review; an admin outside the approver groups cannot either', async () => {
    const review = await held('DELETE FROM t WHERE id = 1');
    const own = await approve(review.id, 'alice');
    expect(own.status).toBe(403);
    expect(own.body.message).toBe('the requester cannot decide their own review');
    expect((await api.request('POST', `/api/reviews/${review.id}/approve`, { body: {} })).status).toBe(403);
  });

  it('approval publishes review.decided to the replica holding the statement, and is audited', async () => {
    const review = await held('DELETE FROM t WHERE id = 2');
    const waiting = gateway.waitForDecision(review);
    const res = await approve(review.id, 'bob', 'looks right');
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('approved');
    expect(res.body.review).toMatchObject({
      status: 'approved',
      approvals: 1,
      decisions: [{ by: { name: 'bob' }, decision: 'approve', comment: 'looks right' }],
    });
    expect(await waiting).toEqual({ status: 'approved', by: { id: u.bob!.id, name: 'bob' }, comment: 'looks right' });
    const audit = await api.request('GET', `/api/audit?action=review.approve&targetId=${review.id}`);
    expect(audit.body.items[0]).toMatchObject({
      actor: { name: 'bob' },
      details: { outcome: 'approved', comment: 'looks right' },
    });
    expect((await approve(review.id, 'dave')).status).toBe(409);
  });

  it('a deny decides at once and reaches the waiting replica', async () => {
    const review = await held('DELETE FROM t WHERE id = 3');
    const decided = heard('review.decided', (m) => m.reviewId === review.id);
    const res = await api.request('POST', `/api/reviews/${review.id}/deny`, { ...as('dave'), body: { comment: 'no' } });
    expect(res.body.outcome).toBe('denied');
    expect(await decided).toEqual({
      reviewId: review.id,
      status: 'denied',
      by: { id: u.dave!.id, name: 'dave' },
      comment: 'no',
    });
  });

  it('an expired review answers 409', async () => {
    const review = await held('DELETE FROM t WHERE id = 4');
    await api.db.prisma.review.update({ where: { id: review.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const res = await approve(review.id, 'bob');
    expect(res.status).toBe(409);
    expect(res.body.message).toBe('the review has expired');
    expect((await api.request('GET', '/api/reviews', as('bob'))).body.map((r: any) => r.id)).not.toContain(review.id);
  });

  it('concurrent approvals: one approves, the other gets 409', async () => {
    const review = await held('DELETE FROM t WHERE id = 5');
    const [a, b] = await Promise.all([approve(review.id, 'bob'), approve(review.id, 'dave')]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const final = await api.request('GET', `/api/reviews/${review.id}`);
    expect(final.body).toMatchObject({ status: 'approved', approvals: 1 });
  });
});

describe('group rules', () => {
  beforeAll(async () => {
    const res = await api.request('POST', '/api/policies', {
      body: {
        name: 'strict',
        kind: 'review',
        connections: ['pg'],
        rules: {
          reviews: [
            {
              type: 'require_review',
              name: 'truncates',
              match: { kinds: ['truncate'] },
              approverGroups: ['dba', 'sre'],
              approvals: 2,
              allowRequesterGroup: false,
            },
          ],
        },
      },
    });
    expect(res.status).toBe(201);
  });

  it("with allowRequesterGroup false, an approver sharing the requester's group can neither see it in the inbox nor decide", async () => {
    const review = await held('TRUNCATE audit_log');
    expect((await api.request('GET', '/api/reviews', as('carol'))).body.map((r: any) => r.id)).not.toContain(review.id);
    const res = await approve(review.id, 'carol');
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/requester's groups \(eng\)/);
  });

  it('two approvals are needed: the first leaves it pending', async () => {
    const review = await held('TRUNCATE sessions');
    const first = await approve(review.id, 'bob');
    expect(first.body).toMatchObject({
      outcome: 'pending',
      review: { status: 'pending', approvals: 1, canDecide: false },
    });
    expect((await approve(review.id, 'bob')).status).toBe(409);
    const decided = heard('review.decided', (m) => m.reviewId === review.id);
    const second = await approve(review.id, 'dave');
    expect(second.body.outcome).toBe('approved');
    expect((await decided).by).toEqual({ id: u.dave!.id, name: 'dave' });
  });
});

describe('access requests', () => {
  it('without an access_review rule on the connection, asking is refused (nobody could approve)', async () => {
    const res = await api.request('POST', '/api/access-requests', {
      ...as('erin'),
      body: { connection: 'pg', durationSeconds: 600 },
    });
    expect(res.status).toBe(409);
    expect(res.body.message).toMatch(/no access_review rule/);
  });

  it('approving a request creates a grant; an admin revokes it and the gateways hear of it', async () => {
    await api.request('POST', '/api/policies', {
      body: {
        name: 'jit',
        kind: 'review',
        connections: ['pg'],
        rules: {
          reviews: [
            {
              type: 'access_review',
              name: 'jit',
              approverGroups: ['dba'],
              maxDurationSeconds: 3600,
              requireJustification: true,
            },
          ],
        },
      },
    });
    const noWhy = await api.request('POST', '/api/access-requests', {
      ...as('erin'),
      body: { connection: 'pg', durationSeconds: 600 },
    });
    expect(noWhy.status).toBe(400);
    const tooLong = await api.request('POST', '/api/access-requests', {
      ...as('erin'),
      body: { connection: 'pg', durationSeconds: 7200, justification: 'x' },
    });
    expect(tooLong.status).toBe(400);
    const asked = await api.request('POST', '/api/access-requests', {
      ...as('erin'),
      body: { connection: connectionId, durationSeconds: 600, justification: 'incident 12' },
    });
    expect(asked.status).toBe(201);
    expect(asked.body).toMatchObject({
      kind: 'access',
      status: 'pending',
      accessSeconds: 600,
      justification: 'incident 12',
    });
    const again = await api.request('POST', '/api/access-requests', {
      ...as('erin'),
      body: { connection: 'pg', durationSeconds: 600, justification: 'again' },
    });
    expect(again.status).toBe(409);
    expect((await api.request('GET', '/api/access-requests', as('erin'))).body.map((r: any) => r.id)).toEqual([
      asked.body.id,
    ]);
    expect((await api.request('GET', '/api/access-requests', as('alice'))).body).toEqual([]);
    expect((await api.request('GET', '/api/access-requests')).body.map((r: any) => r.id)).toContain(asked.body.id);

    const approved = await approve(asked.body.id, 'bob');
    expect(approved.body.outcome).toBe('approved');
    const grant = approved.body.review.grant;
    expect(grant).toMatchObject({
      identity: { name: 'erin' },
      connection: { name: 'pg' },
      active: true,
      revokedAt: null,
    });
    expect(Date.parse(grant.endsAt) - Date.parse(grant.startsAt)).toBe(600_000);

    expect((await api.request('POST', `/api/access-grants/${grant.id}/revoke`, as('bob'))).status).toBe(403);
    const revokedMessage = heard('access.revoked');
    const revoked = await api.request('POST', `/api/access-grants/${grant.id}/revoke`);
    expect(revoked.body).toMatchObject({ id: grant.id, active: false, revokedAt: expect.any(String) });
    expect(await revokedMessage).toEqual({ identityId: u.erin!.id, connectionId, grantId: grant.id });
    expect((await api.request('POST', '/api/access-grants/00000000-0000-0000-0000-000000000000/revoke')).status).toBe(
      404,
    );
  });
});
