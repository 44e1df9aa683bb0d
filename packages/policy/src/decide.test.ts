import { describe, expect, it } from 'vitest';
import {
  analysisCacheStats,
  compilePolicy,
  decide,
  decideUncached,
  defaultPolicyRules,
  parserCallCount,
  PolicyRules,
  PolicyRulesError,
  UNPARSEABLE_MESSAGE,
  validatePolicyRules,
} from './index.js';
import { maskingRules } from './test-tables.js';

const guarded = () => compilePolicy({ guardrails: [{ type: 'deny_kinds', name: 'no-drop', kinds: ['drop'] }] }, 1);

describe('fail closed on unparseable SQL', () => {
  it('blocks with rule "unparseable" and the parser message when the policy has any rule', () => {
    const unparseable = {
      action: 'block',
      rule: 'unparseable',
      message: 'Warden could not parse this statement; refusing it (fail closed)',
      detail: 'syntax error at or near "SELEC"',
    };
    expect(UNPARSEABLE_MESSAGE).toBe(unparseable.message);
    expect(decide(guarded(), 'SELEC 1')).toEqual(unparseable);
    expect(decide(compilePolicy(maskingRules, 1), 'SELEC 1')).toEqual(unparseable);
    expect(
      decide(compilePolicy({ masking: { detectors: [{ detector: 'email', strategy: 'domain' }] } }, 1), 'SELEC 1'),
    ).toEqual(unparseable);
    // One bad statement in a multi-statement string refuses the whole string.
    expect(decide(guarded(), 'SELECT 1; SELEC 2')).toMatchObject({ action: 'block', rule: 'unparseable' });
  });

  it('statements too deep to analyze are refused, never thrown', () => {
    const deep = `SELECT ${Array.from({ length: 6000 }, () => 'a').join(' + ')} FROM t`;
    expect(decide(guarded(), deep)).toEqual({
      action: 'block',
      rule: 'unparseable',
      message: UNPARSEABLE_MESSAGE,
      detail: 'statement too complex to analyze (Maximum call stack size exceeded)',
    });
    const nested = `SELECT ${'f('.repeat(20000)}a${')'.repeat(20000)}`;
    expect(decide(guarded(), nested)).toMatchObject({ action: 'block', rule: 'unparseable' });
  });

  it('allows, saying why, when there is nothing to enforce', () => {
    expect(decide(compilePolicy({}, 1), 'SELEC 1')).toEqual({
      action: 'allow',
      statements: [],
      maskedColumns: [],
      parseError: 'syntax error at or near "SELEC"',
    });
    const disabled = compilePolicy(
      { guardrails: [{ type: 'deny_kinds', name: 'x', kinds: ['drop'], enabled: false }] },
      1,
    );
    expect(disabled.guarded).toBe(false);
    expect(decide(disabled, 'SELEC 1').action).toBe('allow');
  });

  it('empty statements are allowed', () => {
    for (const sql of ['', ';', ' ;; ', '/* nothing */']) {
      expect(decide(guarded(), sql)).toEqual({ action: 'allow', statements: [], maskedColumns: [] });
    }
  });
});

describe('decision cache', () => {
  it('a repeated statement is answered from the cache: same decision object, no parse', () => {
    const policy = compilePolicy(maskingRules, 'v1');
    const sql = `SELECT email FROM customers WHERE id = ${Math.random()}`;
    const parses = parserCallCount();
    const first = decide(policy, sql);
    expect(parserCallCount()).toBe(parses + 1);
    const second = decide(policy, sql);
    expect(second).toBe(first);
    expect(parserCallCount()).toBe(parses + 1);
    expect(policy.cacheStats()).toMatchObject({ hits: 1, misses: 1, size: 1, maxEntries: 10_000 });
  });

  it('blocks are cached too', () => {
    const policy = guarded();
    const parses = parserCallCount();
    const a = decide(policy, 'DROP TABLE cached_block');
    const b = decide(policy, 'DROP TABLE cached_block');
    expect(b).toBe(a);
    expect(a).toMatchObject({ action: 'block', rule: 'no-drop' });
    expect(parserCallCount()).toBe(parses + 1);
  });

  it('decisions are per policy version; a new version reuses the analysis without parsing again', () => {
    const sql = `SELECT lower(email) FROM customers /* ${Math.random()} */`;
    const v1 = compilePolicy({}, 1);
    const v2 = compilePolicy(maskingRules, 2);
    expect(decide(v1, sql).action).toBe('allow');
    const parses = parserCallCount();
    const analysisHits = analysisCacheStats().hits;
    expect(decide(v2, sql)).toMatchObject({ action: 'block', rule: 'masking' });
    expect(parserCallCount()).toBe(parses);
    expect(analysisCacheStats().hits).toBe(analysisHits + 1);
    expect(v2.version).toBe('2');
  });

  it('is bounded: old entries are evicted and recomputed on demand', () => {
    const policy = compilePolicy({}, 1, { cache: { maxEntries: 4 } });
    // Distinct identifiers: statements differing only in numbers share one entry.
    for (let i = 0; i < 10; i++) decide(policy, `SELECT c${i} FROM t`);
    const stats = policy.cacheStats();
    expect(stats.size).toBeLessThanOrEqual(4);
    expect(stats.evictions).toBeGreaterThan(0);
    expect(decide(policy, 'SELECT c9 FROM t')).toBe(decide(policy, 'SELECT c9 FROM t'));
  });

  it('very long statements are decided but not cached', () => {
    const policy = compilePolicy({}, 1, { cache: { maxKeyLength: 100 } });
    const sql = `SELECT ${'1 + '.repeat(50)}1`;
    decide(policy, sql);
    decide(policy, sql);
    expect(policy.cacheStats()).toMatchObject({ hits: 0, misses: 2, size: 0 });
  });

  it('cached decisions are frozen, so one caller cannot change another caller’s answer', () => {
    const d = decide(compilePolicy(maskingRules, 1), 'SELECT email FROM customers');
    expect(Object.isFrozen(d)).toBe(true);
    expect(d.action === 'allow' && Object.isFrozen(d.maskedColumns[0])).toBe(true);
    expect(d.action === 'allow' && Object.isFrozen(d.statements)).toBe(true);
  });

  it('decideUncached gives the same decision without touching the caches', () => {
    const policy = compilePolicy(maskingRules, 1);
    const before = policy.cacheStats();
    expect(decideUncached(policy, 'SELECT * FROM customers')).toEqual(
      decide(compilePolicy(maskingRules, 1), 'SELECT * FROM customers'),
    );
    expect(policy.cacheStats()).toEqual(before);
  });
});

describe('rules validation', () => {
  it('the exported TypeBox schema accepts the default pack and documented shapes', () => {
    expect(validatePolicyRules(defaultPolicyRules())).toEqual({ ok: true, rules: defaultPolicyRules() });
    expect(PolicyRules.type).toBe('object');
  });

  it('rejects malformed rules with JSON-pointer paths', () => {
    const bad = validatePolicyRules({
      guardrails: [{ type: 'deny_kinds', name: 'x' }],
      masking: { columns: [{ column: 'nodots', strategy: 'x' }] },
    });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors.length).toBeGreaterThan(0);
    expect(validatePolicyRules({ guardrails: [{ type: 'nope', name: 'x' }] }).ok).toBe(false);
    expect(validatePolicyRules({ extra: true }).ok).toBe(false);
    expect(
      validatePolicyRules({ guardrails: [{ type: 'deny_pattern', name: 'p', pattern: 'a', flags: 'g' }] }).ok,
    ).toBe(false);
  });

  it('rejects what a schema cannot: invalid regexes', () => {
    expect(
      validatePolicyRules({
        guardrails: [
          { type: 'deny_pattern', name: 'p', pattern: '(' },
          { type: 'deny_kinds', name: 'p', kinds: ['drop'] },
        ],
      }),
    ).toEqual({
      ok: false,
      errors: [{ path: '/guardrails/0/pattern', message: expect.stringContaining('Invalid regular expression') }],
    });
  });

  it('compilePolicy throws PolicyRulesError listing the problems', () => {
    expect(() => compilePolicy({ guardrails: [{ type: 'deny_pattern', name: 'p', pattern: '(' }] }, 1)).toThrow(
      PolicyRulesError,
    );
    let caught: unknown;
    try {
      compilePolicy({ masking: { columns: [{ column: 'a', strategy: 's' }] } }, 1);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PolicyRulesError);
    expect((caught as PolicyRulesError).errors[0]?.path).toBe('/masking/columns/0/column');
  });

  it('identifiers in column rules read like Postgres: unquoted ones fold to lower case, quoted ones keep case', () => {
    const policy = compilePolicy(
      {
        masking: {
          columns: [
            { column: 'App.Users.Email', strategy: 'redact' },
            { column: '"Billing"."Card Holders"."PAN"', strategy: 'last4' },
          ],
          detectors: [
            { detector: 'email', strategy: 'domain' },
            { detector: 'credit_card', strategy: 'last4' },
          ],
        },
      },
      1,
    );
    expect(policy.masking).toEqual({
      columns: [
        { column: 'app.users.email', strategy: 'redact', name: 'app.users.email' },
        { column: '"Billing"."Card Holders"."PAN"', strategy: 'last4', name: '"Billing"."Card Holders"."PAN"' },
      ],
      detectors: { email: 'domain', credit_card: 'last4' },
    });
    expect(decide(policy, 'SELECT "PAN" FROM "Billing"."Card Holders" WHERE "PAN" = \'1\'')).toMatchObject({
      action: 'block',
      column: '"Billing"."Card Holders"."PAN"',
    });
  });

  it('strategies and detector ids are the ones the agent implements', () => {
    expect(validatePolicyRules({ masking: { columns: [{ column: 't.c', strategy: 'partial' }] } }).ok).toBe(false);
    expect(validatePolicyRules({ masking: { detectors: [{ detector: 'ssn', strategy: 'redact' }] } }).ok).toBe(false);
  });

  it('compiles column rules into the masking plan the agent applies (schema defaults to public)', () => {
    const policy = compilePolicy(maskingRules, 7);
    expect(policy.masking).toEqual({
      columns: [
        { column: 'public.customers.email', strategy: 'domain', name: 'public.customers.email' },
        { column: 'public.customers.card', strategy: 'redact', name: 'cards' },
        { column: 'billing.accounts.iban', strategy: 'hash', name: 'billing.accounts.iban' },
      ],
      detectors: {},
    });
  });
});
