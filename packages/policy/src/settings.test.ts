import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicy, decide, defaultPolicyRules, LEXING_PINS, matchesPin, type PolicyRules } from './index.js';
import { one } from './test-tables.js';

/** A guarded policy with nothing that refuses settings: only the built-in checks do. */
const minimal = compilePolicy(
  { guardrails: [{ type: 'deny_tables', name: 'secrets', tables: ['vault.secrets'] }] },
  'minimal',
);
const defaults = compilePolicy(defaultPolicyRules(), 'defaults');

describe('analysis: settings a statement changes', () => {
  it.each([
    ['SET standard_conforming_strings = off', [{ name: 'standard_conforming_strings', value: 'off', via: 'set' }]],
    ["SET LOCAL client_encoding TO 'SJIS'", [{ name: 'client_encoding', value: 'SJIS', via: 'set' }]],
    ["SET NAMES 'big5'", [{ name: 'client_encoding', value: 'big5', via: 'set' }]],
    ["SET TIME ZONE 'UTC'", [{ name: 'timezone', value: 'UTC', via: 'set' }]],
    ['SET ROLE admin', [{ name: 'role', value: 'admin', via: 'set' }]],
    ["SET SESSION AUTHORIZATION 'admin'", [{ name: 'session_authorization', value: 'admin', via: 'set' }]],
    ['SET search_path = a, "B"', [{ name: 'search_path', value: 'a, B', via: 'set' }]],
    ['SET "Standard_Conforming_Strings" = 0', [{ name: 'standard_conforming_strings', value: '0', via: 'set' }]],
    ['SET work_mem TO DEFAULT', [{ name: 'work_mem', via: 'reset' }]],
    ['RESET client_encoding', [{ name: 'client_encoding', via: 'reset' }]],
    ['RESET ALL', [{ name: 'all', via: 'reset' }]],
    [
      'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
      [{ name: 'transaction_isolation', value: 'serializable', via: 'set' }],
    ],
    [
      'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY',
      [{ name: 'default_transaction_read_only', value: '1', via: 'set' }],
    ],
    [
      "SELECT set_config('backslash_quote', 'on', false)",
      [{ name: 'backslash_quote', value: 'on', via: 'set_config' }],
    ],
    [
      "SELECT pg_catalog.set_config(setting_name => 'Role'::text, new_value => 'x', is_local => true)",
      [{ name: 'role', value: 'x', via: 'set_config' }],
    ],
    ["SELECT set_config(name, 'x', false) FROM t", [{ name: undefined, value: 'x', via: 'set_config' }]],
    ["SELECT set_config('a' || 'b', v, false) FROM t", [{ name: undefined, via: 'set_config' }]],
    ["UPDATE pg_settings SET setting = 'off' WHERE name = 'x'", [{ name: undefined, via: 'set_config' }]],
    [
      'ALTER ROLE r IN DATABASE d SET standard_conforming_strings = off',
      [{ name: 'standard_conforming_strings', value: 'off', via: 'alter_role' }],
    ],
    ['ALTER USER r RESET ALL', [{ name: 'all', via: 'alter_role' }]],
    ['ALTER DATABASE d RESET client_encoding', [{ name: 'client_encoding', via: 'alter_database' }]],
    ["ALTER SYSTEM SET backslash_quote = 'on'", [{ name: 'backslash_quote', value: 'on', via: 'alter_system' }]],
    [
      "CREATE FUNCTION f() RETURNS int SET client_encoding = 'sjis' SET x FROM CURRENT LANGUAGE sql AS 'select 1'",
      [
        { name: 'client_encoding', value: 'sjis', via: 'function_set' },
        { name: 'x', via: 'function_set' },
      ],
    ],
    [
      'ALTER PROCEDURE p() SET a = 1 RESET b',
      [
        { name: 'a', value: '1', via: 'function_set' },
        { name: 'b', via: 'function_set' },
      ],
    ],
    [
      "DO $$ BEGIN SET standard_conforming_strings = off; PERFORM set_config('role', 'x', false); END $$",
      [
        { name: 'standard_conforming_strings', value: 'off', via: 'set' },
        { name: 'role', value: 'x', via: 'set_config' },
      ],
    ],
    [
      "EXPLAIN SELECT set_config('client_encoding', 'sjis', false)",
      [{ name: 'client_encoding', value: 'sjis', via: 'set_config' }],
    ],
    [
      "PREPARE p AS SELECT set_config('client_encoding', 'sjis', false)",
      [{ name: 'client_encoding', value: 'sjis', via: 'set_config' }],
    ],
    ['SELECT current_setting($$client_encoding$$)', []],
  ])('%s', (sql, settings) => {
    expect(one(sql).settings).toEqual(settings);
  });
});

describe('built-in lexing check', () => {
  it('refuses changing a pinned setting, naming it and saying why', () => {
    expect(decide(minimal, 'SET standard_conforming_strings = off')).toEqual({
      action: 'block',
      rule: 'lexing',
      message:
        "standard_conforming_strings is pinned to 'on' on this connection so that Warden's parser and the server read SQL text the same way; setting standard_conforming_strings to 'off' is not allowed",
      detail: 'SET of pinned setting standard_conforming_strings is refused by the built-in lexing check',
      statementIndex: 0,
    });
  });

  it.each([
    "SET client_encoding = 'SJIS'",
    "SET NAMES 'GBK'",
    'SET backslash_quote = on',
    "SELECT set_config('standard_conforming_strings', 'off', false)",
    "SELECT set_config('client_encoding', lower($1), false)",
    "SELECT set_config($1, 'x', false)",
    "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
    'ALTER ROLE r SET standard_conforming_strings = on', // a role default of a pinned name, even the pinned value
    'ALTER DATABASE d RESET client_encoding',
    'ALTER SYSTEM RESET ALL',
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET client_encoding = 'UTF8' AS 'select 1'",
    'ALTER FUNCTION f() RESET ALL',
    "DO $$ BEGIN SET LOCAL standard_conforming_strings TO 'off'; END $$",
  ])('refuses %s', (sql) => {
    const d = decide(minimal, sql);
    expect(d).toMatchObject({ action: 'block', rule: 'lexing' });
    expect(d.action === 'block' && d.message).toMatch(/pinned .*so that Warden's parser and the server read SQL/);
  });

  it.each([
    'SET standard_conforming_strings = on',
    "SET client_encoding = 'utf-8'",
    "SET NAMES 'UNICODE'",
    'SET backslash_quote = safe_encoding',
    'RESET standard_conforming_strings',
    'SET client_encoding TO DEFAULT',
    'RESET ALL',
    "SELECT set_config('search_path', 'app', false)",
    'SET work_mem = 65536',
  ])('allows %s (session RESET returns to the pinned startup values)', (sql) => {
    expect(decide(minimal, sql).action).toBe('allow');
  });

  it('is not applied on a connection with nothing to enforce', () => {
    expect(decide(compilePolicy({}, 'open'), 'SET standard_conforming_strings = off').action).toBe('allow');
  });
});

describe('deny_settings', () => {
  const rules: PolicyRules = {
    guardrails: [{ type: 'deny_settings', name: 'no-logging', parameters: ['log_*', 'search_path'] }],
  };
  const policy = compilePolicy(rules, 1);

  it('refuses a named setting by every route, naming the rule and pattern', () => {
    expect(decide(policy, "SET log_statement = 'none'")).toEqual({
      action: 'block',
      rule: 'no-logging',
      message: 'changing log_statement is not allowed on this connection',
      detail: 'SET of log_statement matches "log_*" in rule "no-logging"',
      statementIndex: 0,
    });
    for (const sql of [
      "SELECT set_config('log_min_duration_statement', '-1', false)",
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = evil AS $$select 1$$',
      "ALTER ROLE me SET log_statement = 'none'",
      "DO $$ BEGIN SET search_path = 'evil'; END $$",
    ]) {
      expect(decide(policy, sql), sql).toMatchObject({ action: 'block', rule: 'no-logging' });
    }
  });

  it('refuses changes whose setting it cannot name (fail closed), allows session RESET', () => {
    expect(decide(policy, "SELECT set_config(current_user || '_x', 'y', false)")).toMatchObject({
      action: 'block',
      rule: 'no-logging',
      detail:
        'set_config() with a setting name that is not a literal (or an UPDATE of pg_settings) is refused by rule "no-logging": the settings it changes are not named in the statement',
    });
    expect(decide(policy, "UPDATE pg_catalog.pg_settings SET setting = 'x' WHERE name = 'y'").action).toBe('block');
    expect(decide(policy, 'RESET search_path').action).toBe('allow');
    expect(decide(policy, 'RESET ALL').action).toBe('allow');
    expect(decide(policy, 'SET work_mem = 1024').action).toBe('allow');
  });

  it('the default pack refuses switching roles and replication role', () => {
    for (const sql of [
      'SET ROLE postgres',
      'SET LOCAL ROLE postgres',
      "SET SESSION AUTHORIZATION 'postgres'",
      'SET session_replication_role = replica',
      "SELECT set_config('role', 'postgres', false)",
      "SELECT set_config('session_replication_role', 'replica', true)",
      'DO $$ BEGIN SET ROLE postgres; END $$',
    ]) {
      expect(decide(defaults, sql), sql).toMatchObject({ action: 'block', rule: 'default.session-identity' });
    }
    expect(decide(defaults, 'RESET ROLE').action).toBe('allow');
    expect(decide(defaults, 'SET SESSION AUTHORIZATION DEFAULT').action).toBe('allow');
  });

  it('is validated: parameters are required and non-empty', () => {
    expect(() => compilePolicy({ guardrails: [{ type: 'deny_settings', name: 'x', parameters: [] }] }, 1)).toThrow(
      /parameters/,
    );
  });
});

/** Statements that change a pinned setting to a value other than the pin, in varied spellings and nestings. */
function pinnedChange(): fc.Arbitrary<string> {
  const badValues: Record<string, string[]> = {
    standard_conforming_strings: ['off', 'false', 'no', '0', 'of'],
    client_encoding: ['SJIS', 'big5', 'GBK', 'gb18030', 'latin1', 'johab', 'WIN1252'],
    backslash_quote: ['on', 'off', 'true', 'false'],
  };
  const name = fc.constantFrom(...Object.keys(LEXING_PINS)).chain((n) =>
    fc.record({
      name: fc.constant(n),
      spelled: fc.constantFrom(
        n,
        n.toUpperCase(),
        `"${n}"`,
        n.replace(/^./, (c) => c.toUpperCase()),
      ),
      // Only values the contract refuses (it may come to accept more spellings).
      value: fc.constantFrom(...(badValues[n] ?? ['x']).filter((v) => !matchesPin(n, v))),
    }),
  );
  const literal = (v: string) =>
    fc.constantFrom(
      `'${v}'`,
      `E'${v}'`,
      `$$${v}$$`,
      `U&'${[...v].map((c) => `\\${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}'`,
    );
  const setStatement = name.chain(({ name: n, spelled, value }) =>
    fc.oneof(
      literal(value).chain((lit) =>
        fc.constantFrom(
          `SET ${spelled} = ${lit}`,
          `set ${spelled} to ${lit}`,
          `SET LOCAL ${spelled} = ${lit}`,
          `SET SESSION ${spelled} TO ${lit}`,
          `SET/**/${spelled}=${lit}`,
          `ALTER ROLE current_user SET ${spelled} = ${lit}`,
          `ALTER USER u IN DATABASE d SET ${spelled} = ${lit}`,
          `ALTER DATABASE d SET ${spelled} = ${lit}`,
          `ALTER SYSTEM SET ${spelled} = ${lit}`,
          `ALTER FUNCTION f(int) SET ${spelled} = ${lit}`,
          `CREATE FUNCTION g() RETURNS int LANGUAGE sql SET ${spelled} = ${lit} AS 'select 1'`,
          `CREATE PROCEDURE p() LANGUAGE sql SET ${spelled} = ${lit} BEGIN ATOMIC SELECT 1; END`,
          ...(n === 'client_encoding' ? [`SET NAMES ${lit}`] : []),
        ),
      ),
      fc.constantFrom(
        `ALTER ROLE r RESET ${spelled}`,
        `ALTER DATABASE d RESET ${spelled}`,
        `ALTER SYSTEM RESET ${spelled}`,
      ),
      literal(value).map((lit) => `SELECT set_config('${n}', ${lit}, false)`),
      fc.constantFrom(
        `SELECT pg_catalog.set_config('${n.toUpperCase()}'::text, '${value}', true)`,
        `SELECT set_config(new_value => '${value}', setting_name => '${n}', is_local => false)`,
        `SELECT set_config('${n.slice(0, 5)}' || '${n.slice(5)}', 'on', false)`,
        `SELECT set_config('${n}', lower('${value}'), false)`,
        `UPDATE pg_settings SET setting = '${value}' WHERE name = '${n}'`,
      ),
    ),
  );
  return setStatement.chain((stmt) => {
    const isSelect = stmt.startsWith('SELECT');
    return fc.constantFrom(
      stmt,
      `SELECT 1; ${stmt}`,
      `${stmt}; SELECT 1`,
      `DO $do$ BEGIN ${isSelect ? stmt.replace(/^SELECT/, 'PERFORM') : stmt}; END $do$`,
      `DO LANGUAGE plpgsql $do$ BEGIN IF true THEN ${isSelect ? stmt.replace(/^SELECT/, 'PERFORM') : stmt}; END IF; END $do$`,
      ...(isSelect
        ? [
            `WITH c AS (${stmt}) SELECT * FROM c`,
            `SELECT * FROM (${stmt}) s`,
            `EXPLAIN ANALYZE ${stmt}`,
            `PREPARE q AS ${stmt}`,
            `CREATE VIEW v AS ${stmt}`,
            `CREATE FUNCTION h() RETURNS text LANGUAGE sql AS $f$ ${stmt} $f$`,
          ]
        : []),
    );
  });
}

describe('property: no statement that changes a pinned setting is allowed', () => {
  it('under a minimal guarded policy (the built-in check) and the default pack', () => {
    fc.assert(
      fc.property(pinnedChange(), (sql) => {
        const d = decide(minimal, sql);
        // Every generated statement parses, so the refusal is the lexing check's, not the parser's.
        expect(d, sql).toMatchObject({ action: 'block', rule: 'lexing' });
        expect(decide(defaults, sql).action, sql).toBe('block');
      }),
      { numRuns: 400 },
    );
  });
});
