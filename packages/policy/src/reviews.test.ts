import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  compilePolicy,
  decide,
  decideUncached,
  defaultPolicyRules,
  mergePolicyRules,
  parserCallCount,
  validatePolicyRules,
  type CompiledPolicy,
  type Decision,
  type ImmediateDecision,
  type PolicyRules,
  type RequireReviewRule,
  type ReviewDecision,
} from './index.js';

const deletes: RequireReviewRule = {
  type: 'require_review',
  name: 'deletes',
  match: { kinds: ['delete'] },
  approverGroups: ['dba'],
};

const hold = (rules: PolicyRules) => compilePolicy(rules, 1, { reviews: 'hold' });

describe('review rules: validation', () => {
  it('accepts require_review and access_review rules with their options', () => {
    const rules = {
      reviews: [
        {
          ...deletes,
          match: { kinds: ['delete', 'update'], tables: ['public.users', 'audit.*'], pattern: 'users', flags: 'i' },
          approvals: 2,
          allowRequesterGroup: false,
          timeoutSeconds: 600,
          requireJustification: true,
          notify: { webhookUrl: 'https://hooks.example.com/x', secret: 's3cret' },
          message: 'a DBA has to look at this',
        },
        { type: 'require_review', name: 'writes', match: { anyWrite: true }, approverGroups: ['ops'] },
        { type: 'access_review', name: 'jit', approverGroups: ['leads'], maxDurationSeconds: 3600 },
      ],
    };
    expect(validatePolicyRules(rules)).toEqual({ ok: true, rules });
  });

  it('reports each problem at its own path, against the rule type it names', () => {
    const result = validatePolicyRules({
      reviews: [
        { type: 'require_review', name: 'a', match: { kinds: ['delete'] }, approverGroups: [] },
        { type: 'require_review', name: 'b', match: { kinds: ['delete'] }, approverGroups: ['x'], approvals: 11 },
        { type: 'require_review', name: 'c', match: { kinds: ['delete'] }, approverGroups: ['x'], timeoutSeconds: 5 },
        { type: 'require_review', name: 'd', approverGroups: ['x'] },
        { ...deletes, notify: { webhookUrl: 'ftp://example.com' } },
        { ...deletes, colour: 'red' },
        { type: 'review_everything', name: 'e' },
      ],
    });
    expect(result.ok).toBe(false);
    const paths = !result.ok ? result.errors.map((e) => e.path) : [];
    expect(paths).toEqual(
      expect.arrayContaining([
        '/reviews/0/approverGroups',
        '/reviews/1/approvals',
        '/reviews/2/timeoutSeconds',
        '/reviews/3/match',
        '/reviews/4/notify/webhookUrl',
        '/reviews/5/colour',
        '/reviews/6/type',
      ]),
    );
    // Only the rule's own type is checked: no complaints borrowed from the other branches.
    expect(paths.filter((p) => p.startsWith('/reviews/0'))).toEqual(['/reviews/0/approverGroups']);
  });

  it('a match needs a criterion, and its regex must compile', () => {
    expect(
      validatePolicyRules({
        reviews: [
          { ...deletes, match: { anyWrite: false } },
          { ...deletes, match: { pattern: '(' } },
        ],
      }),
    ).toEqual({
      ok: false,
      errors: [
        { path: '/reviews/0/match', message: 'needs at least one of kinds, tables, pattern or anyWrite: true' },
        { path: '/reviews/1/match/pattern', message: expect.stringContaining('Invalid regular expression') },
      ],
    });
  });
});

describe('review rules: decide()', () => {
  it('a matching statement answers review with the requirement and every default applied', () => {
    const d = decide(hold({ reviews: [deletes] }), 'DELETE FROM users WHERE id = 1');
    expect(d).toMatchObject({
      action: 'review',
      rule: 'deletes',
      message: 'this statement needs an approval from dba before it runs',
      detail: 'a DELETE statement: rule "deletes" needs an approval from dba',
      statementIndex: 0,
      review: {
        rule: 'deletes',
        approverGroups: ['dba'],
        approvals: 1,
        allowRequesterGroup: true,
        timeoutSeconds: 300,
        requireJustification: false,
        notify: false,
      },
      maskedColumns: [],
    });
    expect((d as ReviewDecision).statements).toHaveLength(1);
    expect(Object.isFrozen(d) && Object.isFrozen((d as ReviewDecision).review)).toBe(true);
  });

  it('statements no rule matches are allowed as before', () => {
    const policy = hold({ reviews: [deletes] });
    expect(decide(policy, 'SELECT 1').action).toBe('allow');
    expect(decide(policy, 'UPDATE users SET a = 1 WHERE id = 2').action).toBe('allow');
  });

  it('a block wins over a review, in any statement of the string', () => {
    // Without max_rows_affected, which refuses every DELETE that shares its string with other statements.
    const guardrails = defaultPolicyRules().guardrails?.filter((r) => r.type !== 'max_rows_affected');
    const rules: PolicyRules = { ...defaultPolicyRules(), guardrails, reviews: [deletes] };
    const policy = hold(rules);
    expect(decide(policy, 'DELETE FROM users WHERE id = 1').action).toBe('review');
    expect(decide(policy, 'DELETE FROM users')).toMatchObject({ action: 'block', rule: 'default.require-where' });
    expect(decide(policy, 'DELETE FROM users WHERE id = 1; DROP TABLE users')).toMatchObject({
      action: 'block',
      rule: 'default.destructive-ddl',
      statementIndex: 1,
    });
    expect(decide(policy, 'SELECT 1; DELETE FROM users WHERE id = 1')).toMatchObject({
      action: 'review',
      statementIndex: 1,
    });
    // With the whole default pack, a DELETE among other statements cannot be held to
    // default.max-rows-affected, and that block wins as well.
    expect(
      decide(hold({ ...defaultPolicyRules(), reviews: [deletes] }), 'SELECT 1; DELETE FROM users WHERE id = 1'),
    ).toMatchObject({
      action: 'block',
      rule: 'default.max-rows-affected',
      statementIndex: 1,
    });
  });

  it('criteria are ANDed: kinds, tables, pattern, anyWrite', () => {
    const policy = hold({
      reviews: [
        {
          type: 'require_review',
          name: 'user-writes',
          match: { kinds: ['delete', 'update'], tables: ['users'] },
          approverGroups: ['dba'],
        },
        { type: 'require_review', name: 'money', match: { pattern: 'balance', flags: 'i' }, approverGroups: ['fin'] },
        { type: 'require_review', name: 'writes', match: { anyWrite: true }, approverGroups: ['ops'] },
      ],
    });
    expect(decide(policy, 'DELETE FROM app.users WHERE id = 1')).toMatchObject({
      rule: 'user-writes',
      detail: 'a DELETE statement, table app.users (matches "users"): rule "user-writes" needs an approval from dba',
    });
    expect(decide(policy, 'SELECT * FROM users').action).toBe('allow');
    expect(decide(policy, 'SELECT Balance FROM accounts')).toMatchObject({ rule: 'money' });
    expect(decide(policy, 'DELETE FROM orders WHERE id = 1')).toMatchObject({ rule: 'writes' });
    expect(decide(policy, 'CREATE INDEX i ON orders (id)')).toMatchObject({ rule: 'writes' });
    expect(decide(policy, 'SELECT nextval($1)')).toMatchObject({ rule: 'writes' });
    expect(decide(policy, 'WITH d AS (DELETE FROM users WHERE id = 1 RETURNING id) SELECT * FROM d')).toMatchObject({
      rule: 'user-writes',
      detail: expect.stringContaining('DELETE inside SELECT'),
    });
  });

  it('the first matching rule in document order decides; disabled rules do not match', () => {
    const policy = hold({
      reviews: [
        { ...deletes, name: 'off', enabled: false },
        { ...deletes, name: 'first', approvals: 2, approverGroups: ['a', 'b'], message: 'wait for a DBA' },
        { ...deletes, name: 'second' },
      ],
    });
    expect(decide(policy, 'DELETE FROM t WHERE id = 1')).toMatchObject({
      rule: 'first',
      message: 'wait for a DBA',
      detail: 'a DELETE statement: rule "first" needs 2 approvals from a, b',
      review: { approvals: 2, approverGroups: ['a', 'b'] },
    });
  });

  it("without reviews: 'hold' a review rule blocks (fail closed) naming the rule", () => {
    const policy = compilePolicy({ reviews: [deletes] }, 1);
    expect(policy.reviewMode).toBe('block');
    expect(decide(policy, 'DELETE FROM t WHERE id = 1')).toEqual({
      action: 'block',
      rule: 'deletes',
      message: 'this statement needs an approval, which cannot be waited for here; refusing it (fail closed)',
      detail: 'a DELETE statement: rule "deletes" needs an approval from dba',
      statementIndex: 0,
    });
  });

  it("the decision type says whether a caller must handle reviews: only with reviews: 'hold'", () => {
    expectTypeOf(decide(compilePolicy({}, 1), 'SELECT 1')).toEqualTypeOf<ImmediateDecision>();
    expectTypeOf(decide(hold({}), 'SELECT 1')).toEqualTypeOf<Decision>();
    // @ts-expect-error a holding policy cannot stand in where only allow/block are handled
    const narrow: CompiledPolicy = hold({});
    expect(narrow.reviewMode).toBe('hold');
  });

  it('review rules make the policy guarded: unparseable SQL is refused', () => {
    expect(decide(hold({ reviews: [deletes] }), 'DELET FROM t')).toMatchObject({
      action: 'block',
      rule: 'unparseable',
    });
    const off = hold({ reviews: [{ ...deletes, enabled: false }] });
    expect(off.guarded).toBe(false);
  });

  it('review decisions are cached like the others; a pattern rule stops numeric folding', () => {
    const policy = hold({ reviews: [deletes] });
    const parses = parserCallCount();
    const a = decide(policy, 'DELETE FROM cached_review WHERE id = 1');
    const b = decide(policy, 'DELETE FROM cached_review WHERE id = 2');
    expect(b).toBe(a);
    expect(parserCallCount()).toBe(parses + 1);
    const pattern = hold({ reviews: [{ ...deletes, match: { pattern: 'id = 7$' } }] });
    expect(pattern.foldsNumbers).toBe(false);
    expect(decide(pattern, 'SELECT 1 FROM t WHERE id = 7').action).toBe('review');
    expect(decide(pattern, 'SELECT 1 FROM t WHERE id = 8').action).toBe('allow');
    // The cached decision was made for another literal: hold the SQL text itself, not statements[].text.
    expect(decideUncached(policy, 'DELETE FROM cached_review WHERE id = 3')).toMatchObject({
      action: 'review',
      rule: a.action === 'review' ? a.rule : '',
      detail: a.action === 'review' ? a.detail : '',
    });
  });

  it('access_review rules do not hold statements; policy.accessReview names the first enabled one', () => {
    const policy = hold({
      reviews: [
        { type: 'access_review', name: 'off', approverGroups: ['x'], enabled: false },
        { type: 'access_review', name: 'jit', approverGroups: ['leads'], approvals: 2 },
      ],
    });
    expect(decide(policy, 'DELETE FROM t WHERE id = 1').action).toBe('allow');
    expect(policy.accessReview).toEqual({
      rule: 'jit',
      approverGroups: ['leads'],
      approvals: 2,
      allowRequesterGroup: true,
      timeoutSeconds: 3600,
      requireJustification: false,
      notify: false,
      maxDurationSeconds: 30 * 24 * 3600,
    });
    expect(hold({}).accessReview).toBeUndefined();
  });
});

describe('mergePolicyRules', () => {
  it('concatenates every section in order, like the gateway merges a connection’s policies', () => {
    const merged = mergePolicyRules([
      { guardrails: [{ type: 'deny_kinds', name: 'g', kinds: ['drop'] }] },
      { masking: { columns: [{ column: 't.c', strategy: 'redact' }], protectCatalogs: false } },
      { reviews: [deletes] },
      { reviews: [{ ...deletes, name: 'second' }] },
    ]);
    expect(merged).toEqual({
      guardrails: [{ type: 'deny_kinds', name: 'g', kinds: ['drop'] }],
      masking: { columns: [{ column: 't.c', strategy: 'redact' }], detectors: [], protectCatalogs: false },
      reviews: [deletes, { ...deletes, name: 'second' }],
    });
    expect(validatePolicyRules(merged).ok).toBe(true);
    expect(decide(hold(merged), 'DELETE FROM t WHERE id = 1')).toMatchObject({ action: 'review', rule: 'deletes' });
  });
});
