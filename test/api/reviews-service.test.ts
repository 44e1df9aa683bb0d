// @warden/reviews against a real control-plane database: the rules of deciding, concurrency,
// access grants, and ReviewService's wait as the gateway uses it (over Redis between two buses).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisControlBus } from '@warden/control-bus';
import { openDatabase, type Database, type Role } from '@warden/db';
import { accessRequirement, type ReviewRequirement } from '@warden/policy';
import {
  activeGrant,
  createStatementReview,
  decideReview,
  requestAccess,
  ReviewError,
  ReviewService,
  statementHash,
  sweepReviews,
  type Decider,
} from '@warden/reviews';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

let database: TestDatabase;
let db: Database;
let connectionId: string;
const people: Record<string, Decider> = {};

async function person(name: string, groups: string[], role: Role = 'user'): Promise<Decider> {
  const identity = await db.prisma.identity.create({ data: { name, role } });
  for (const g of groups) {
    const group = await db.prisma.group.upsert({ where: { name: g }, create: { name: g }, update: {} });
    await db.prisma.groupMembership.create({ data: { identityId: identity.id, groupId: group.id } });
  }
  return (people[name] = { identityId: identity.id, name, groups, role });
}

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDatabase({ databaseUrl: database.url, dataDir: '.data' });
  const agent = await db.prisma.agent.create({ data: { name: 'edge', keyPrefix: 'wda_x', keyHash: 'h' } });
  connectionId = (
    await db.prisma.connection.create({ data: { name: 'pg', type: 'postgres', agentId: agent.id, config: {} } })
  ).id;
  await person('alice', ['eng']); // requester
  await person('bob', ['dba']);
  await person('carol', ['dba', 'eng']);
  await person('dave', ['sre']);
  await person('root', [], 'admin');
});
afterAll(async () => {
  await db?.close();
  await database?.drop();
});

const requirement = (overrides: Partial<ReviewRequirement> = {}): ReviewRequirement => ({
  rule: 'deletes',
  approverGroups: ['dba', 'sre'],
  approvals: 1,
  allowRequesterGroup: true,
  timeoutSeconds: 300,
  requireJustification: false,
  notify: false,
  ...overrides,
});

const review = (overrides: Partial<ReviewRequirement> = {}, statement = 'DELETE FROM t WHERE id = $1') =>
  createStatementReview(db.prisma, {
    requester: people.alice!,
    connectionId,
    requirement: requirement(overrides),
    statement,
    params: ['42'],
  });

async function refusal(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ReviewError) return `${err.status} ${err.code}`;
    throw err;
  }
  return 'accepted';
}

const decide = (reviewId: string, who: string, decision: 'approve' | 'deny' = 'approve') =>
  decideReview(db.prisma, { reviewId, decider: people[who]!, decision, comment: `${who} says ${decision}` });

describe('statement reviews', () => {
  it('copy the requirement, and bind to the hash of text and parameters', async () => {
    const before = Date.now();
    const r = await review({ approvals: 2, allowRequesterGroup: false, timeoutSeconds: 60 });
    expect(r).toMatchObject({
      kind: 'statement',
      status: 'pending',
      ruleName: 'deletes',
      statement: 'DELETE FROM t WHERE id = $1',
      parameters: ['42'],
      statementHash: statementHash('DELETE FROM t WHERE id = $1', ['42']),
      approverGroups: ['dba', 'sre'],
      requiredApprovals: 2,
      allowSameGroup: false,
    });
    expect(r.expiresAt.getTime() - before).toBeGreaterThanOrEqual(59_000);
    expect(r.expiresAt.getTime() - before).toBeLessThan(61_000);
  });

  it('a rule requiring a justification refuses a review without one', async () => {
    expect(await refusal(review({ requireJustification: true }))).toBe('400 justification_required');
  });

  it('only eligible people decide: never the requester, only approver groups (admins too), same-group rule', async () => {
    const r = await review();
    expect(await refusal(decide(r.id, 'alice'))).toBe('403 own_review');
    expect(await refusal(decide(r.id, 'root'))).toBe('403 not_an_approver');
    const strict = await review({ allowRequesterGroup: false });
    expect(await refusal(decide(strict.id, 'carol'))).toBe('403 same_group'); // dba, but shares eng with alice
    expect((await decide(strict.id, 'bob')).outcome).toBe('approved');
    expect(await refusal(decide('00000000-0000-0000-0000-000000000000', 'bob'))).toBe('404 not_found');
    expect(await refusal(decide('nope', 'bob'))).toBe('404 not_found');
  });

  it('two approvals needed: the first leaves it pending, one person decides once, the second approves', async () => {
    const r = await review({ approvals: 2 });
    const first = await decide(r.id, 'bob');
    expect(first.outcome).toBe('pending');
    expect(first.review.status).toBe('pending');
    expect(await refusal(decide(r.id, 'bob'))).toBe('409 already_decided');
    const second = await decide(r.id, 'dave');
    expect(second.outcome).toBe('approved');
    expect(second.review).toMatchObject({ status: 'approved', decidedAt: expect.any(Date) });
    expect(second.review.decisions.map((d) => [d.identity.name, d.decision, d.comment])).toEqual([
      ['bob', 'approve', 'bob says approve'],
      ['dave', 'approve', 'dave says approve'],
    ]);
    expect(await refusal(decide(r.id, 'carol'))).toBe('409 not_pending');
  });

  it('a deny decides at once, even after approvals', async () => {
    const r = await review({ approvals: 3 });
    await decide(r.id, 'bob');
    expect((await decide(r.id, 'dave', 'deny')).outcome).toBe('denied');
    expect(await refusal(decide(r.id, 'carol'))).toBe('409 not_pending');
  });

  it('an expired review cannot be decided', async () => {
    const r = await createStatementReview(db.prisma, {
      requester: people.alice!,
      connectionId,
      requirement: requirement({ timeoutSeconds: 10 }),
      statement: 'DELETE FROM t',
      now: new Date(Date.now() - 11_000),
    });
    expect(await refusal(decide(r.id, 'bob'))).toBe('409 expired');
  });

  it('concurrent approvals: exactly one decides the review, nothing is lost or doubled', async () => {
    for (let round = 0; round < 5; round++) {
      const two = await review({ approvals: 2 });
      const results = await Promise.allSettled([
        decide(two.id, 'bob'),
        decide(two.id, 'dave'),
        decide(two.id, 'carol'),
      ]);
      const outcomes = results.map((r) =>
        r.status === 'fulfilled' ? r.value.outcome : (r.reason as ReviewError).code,
      );
      expect(outcomes.sort()).toEqual(['approved', 'not_pending', 'pending']);
      const decisions = await db.prisma.reviewDecision.count({ where: { reviewId: two.id } });
      expect(decisions).toBe(2);
    }
  });
});

describe('access requests', () => {
  const access = accessRequirement({
    reviews: [{ type: 'access_review', name: 'jit', approverGroups: ['dba'], maxDurationSeconds: 7200 }],
  })!;

  it('approving creates a grant from now for the requested duration; activeGrant finds it', async () => {
    const requester = await person('erin', ['eng']);
    const request = await requestAccess(db.prisma, {
      requester,
      connectionId,
      durationSeconds: 3600,
      requirement: access,
      justification: 'incident 7',
    });
    expect(request).toMatchObject({
      kind: 'access',
      status: 'pending',
      accessSeconds: 3600,
      justification: 'incident 7',
    });
    expect(await activeGrant(db.prisma, requester.identityId, connectionId)).toBeNull();
    expect(
      await refusal(requestAccess(db.prisma, { requester, connectionId, durationSeconds: 60, requirement: access })),
    ).toBe('409 already_requested');
    const { review: decided, outcome } = await decide(request.id, 'bob');
    expect(outcome).toBe('approved');
    const grant = decided.accessGrant!;
    expect(grant.endsAt.getTime() - grant.startsAt.getTime()).toBe(3600_000);
    expect((await activeGrant(db.prisma, requester.identityId, connectionId))?.id).toBe(grant.id);
    expect(
      await activeGrant(db.prisma, requester.identityId, connectionId, new Date(Date.now() + 3601_000)),
    ).toBeNull();
  });

  it('refuses windows longer than the rule allows', async () => {
    expect(
      await refusal(
        requestAccess(db.prisma, {
          requester: people.alice!,
          connectionId,
          durationSeconds: 7201,
          requirement: access,
        }),
      ),
    ).toBe('400 duration_too_long');
  });
});

describe('ReviewService across two buses (API replica and gateway replica)', () => {
  let api: ReviewService;
  let gateway: ReviewService;
  const buses: RedisControlBus[] = [];

  beforeAll(async () => {
    const prefix = `warden-test:${randomBytes(6).toString('hex')}:`;
    buses.push(new RedisControlBus({ url: REDIS_URL, prefix }), new RedisControlBus({ url: REDIS_URL, prefix }));
    await Promise.all(buses.map((b) => b.ready()));
    api = new ReviewService(db.prisma, buses[0]!, { actor: 'api' });
    gateway = new ReviewService(db.prisma, buses[1]!, { actor: 'gateway:gw-test' });
  });
  afterAll(async () => {
    await Promise.all(buses.map((b) => b.close()));
  });

  const hold = (timeoutSeconds = 300) =>
    gateway.createStatementReview({
      requester: people.alice!,
      connectionId,
      requirement: requirement({ timeoutSeconds }),
      statement: 'DELETE FROM t WHERE id = 1',
    });

  it('creating announces review.created; an approval elsewhere ends the wait within milliseconds', async () => {
    const created = new Promise<string>((resolve) => {
      const off = buses[0]!.subscribe('review.created', (m) => {
        off();
        resolve(m.reviewId);
      });
    });
    const held = await hold();
    expect(await created).toBe(held.id);
    const waiting = gateway.waitForDecision(held);
    const started = performance.now();
    await api.decide({ reviewId: held.id, decider: people.bob!, decision: 'approve', comment: 'ok' });
    expect(await waiting).toEqual({
      status: 'approved',
      by: { id: people.bob!.identityId, name: 'bob' },
      comment: 'ok',
    });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a decision made before the wait started is still seen', async () => {
    const held = await hold();
    await api.decide({ reviewId: held.id, decider: people.bob!, decision: 'deny' });
    expect(await gateway.waitForDecision(held)).toEqual({
      status: 'denied',
      by: { id: people.bob!.identityId, name: 'bob' },
    });
  });

  it('the wait expires the review at its expiry, and audits it', async () => {
    const held = await createStatementReview(db.prisma, {
      requester: people.alice!,
      connectionId,
      requirement: requirement({ timeoutSeconds: 10 }),
      statement: 'DELETE FROM t',
      now: new Date(Date.now() - 9_700),
    });
    expect(await gateway.waitForDecision(held)).toEqual({ status: 'expired', comment: 'nobody decided in time' });
    expect((await db.prisma.review.findUniqueOrThrow({ where: { id: held.id } })).status).toBe('expired');
    const audit = await db.prisma.auditEntry.findFirstOrThrow({ where: { targetId: held.id } });
    expect(audit).toMatchObject({ action: 'review.expire', actorName: 'gateway:gw-test' });
    expect(await refusal(api.decide({ reviewId: held.id, decider: people.bob!, decision: 'approve' }))).toBe(
      '409 not_pending',
    );
  });

  it('aborting the wait (client gone) cancels the review', async () => {
    const held = await hold();
    const abort = new AbortController();
    const waiting = gateway.waitForDecision(held, { signal: abort.signal, abortReason: 'client disconnected' });
    abort.abort();
    expect(await waiting).toEqual({ status: 'cancelled', comment: 'client disconnected' });
    expect((await db.prisma.review.findUniqueOrThrow({ where: { id: held.id } })).status).toBe('cancelled');
  });

  it('a lost message is made up for by polling the database', async () => {
    const held = await hold();
    const waiting = gateway.waitForDecision(held, { pollMs: 100 });
    await decideReview(db.prisma, { reviewId: held.id, decider: people.bob!, decision: 'approve' }); // no publish
    expect((await waiting).status).toBe('approved');
  });

  it('sweep expires overdue reviews and cancels those whose session ended', async () => {
    const overdue = await createStatementReview(db.prisma, {
      requester: people.alice!,
      connectionId,
      requirement: requirement({ timeoutSeconds: 10 }),
      statement: 'DELETE FROM t',
      now: new Date(Date.now() - 60_000),
    });
    const session = await db.prisma.session.create({
      data: { identityId: people.alice!.identityId, connectionId, protocol: 'postgres', status: 'interrupted' },
    });
    const orphan = await createStatementReview(db.prisma, {
      requester: people.alice!,
      connectionId,
      sessionId: session.id,
      requirement: requirement(),
      statement: 'DELETE FROM t',
    });
    const live = await hold();
    const swept = await sweepReviews(db.prisma, { actor: 'api' });
    expect(swept.expired.map((r) => r.id)).toContain(overdue.id);
    expect(swept.cancelled.map((r) => r.id)).toEqual([orphan.id]);
    expect((await db.prisma.review.findUniqueOrThrow({ where: { id: live.id } })).status).toBe('pending');
  });
});
