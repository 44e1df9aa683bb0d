import { describe, expect, it } from 'vitest';
import { compilePolicy, decide, type PolicyRules } from './index.js';
import { decisionTable } from './test-tables.js';

decisionTable(
  'deny_kinds (globs; nested in CTEs, EXPLAIN and DO bodies too)',
  { guardrails: [{ type: 'deny_kinds', name: 'no-ddl', kinds: ['drop', 'alter*', 'delete'] }] },
  [
    [
      'DROP TABLE t',
      'no-ddl',
      'DROP statements are not allowed on this connection',
      'statement kind drop is denied by rule "no-ddl"',
      0,
    ],
    [
      'ALTER TABLE t ADD b int',
      'no-ddl',
      'ALTER TABLE statements are not allowed on this connection',
      'statement kind alter_table is denied by rule "no-ddl"',
      0,
    ],
    [
      'ALTER ROLE r LOGIN',
      'no-ddl',
      'ALTER ROLE statements are not allowed on this connection',
      'statement kind alter_role is denied by rule "no-ddl"',
      0,
    ],
    [
      'SELECT 1; DELETE FROM t WHERE a = 1',
      'no-ddl',
      'DELETE statements are not allowed on this connection',
      'statement kind delete is denied by rule "no-ddl"',
      1,
    ],
    [
      'WITH d AS (DELETE FROM t WHERE a = 1 RETURNING 1) SELECT * FROM d',
      'no-ddl',
      'DELETE statements are not allowed on this connection',
      'statement kind delete (inside SELECT) is denied by rule "no-ddl"',
      0,
    ],
    [
      'EXPLAIN DELETE FROM t',
      'no-ddl',
      'DELETE statements are not allowed on this connection',
      'statement kind delete (inside EXPLAIN) is denied by rule "no-ddl"',
      0,
    ],
    [
      'DO $$ BEGIN DROP TABLE x; END $$',
      'no-ddl',
      'DROP statements are not allowed on this connection',
      'statement kind drop (inside DO) is denied by rule "no-ddl"',
      0,
    ],
    ['CREATE TABLE t (a int)', 'allow'],
    ['TRUNCATE t', 'allow'],
  ],
);

decisionTable('require_where', { guardrails: [{ type: 'require_where', name: 'where', kinds: ['delete'] }] }, [
  [
    'DELETE FROM t',
    'where',
    'DELETE without a WHERE clause is not allowed on this connection',
    'DELETE on t has no WHERE clause that references a column',
    0,
  ],
  [
    'DELETE FROM t WHERE true',
    'where',
    'DELETE without a WHERE clause is not allowed on this connection',
    'DELETE on t has no WHERE clause that references a column',
    0,
  ],
  ['DELETE FROM t WHERE id = 1', 'allow'],
  ['UPDATE t SET a = 1', 'allow'],
]);

decisionTable(
  'deny_tables (schema globs, specific names in any schema)',
  { guardrails: [{ type: 'deny_tables', name: 'no-audit', tables: ['audit.*', 'public.secrets', 'payroll'] }] },
  [
    [
      'SELECT * FROM audit.log',
      'no-audit',
      'access to table audit.log is not allowed on this connection',
      'table audit.log matches "audit.*" in rule "no-audit"',
      0,
    ],
    [
      'INSERT INTO audit.log VALUES (1)',
      'no-audit',
      'access to table audit.log is not allowed on this connection',
      'table audit.log matches "audit.*" in rule "no-audit"',
      0,
    ],
    [
      'SELECT * FROM t WHERE id IN (SELECT id FROM audit.log)',
      'no-audit',
      'access to table audit.log is not allowed on this connection',
      'table audit.log matches "audit.*" in rule "no-audit"',
      0,
    ],
    [
      'DROP SCHEMA audit',
      'no-audit',
      'access to schema audit is not allowed on this connection',
      'schema audit matches "audit.*" in rule "no-audit"',
      0,
    ],
    [
      'SELECT audit.f()',
      'no-audit',
      'access to schema audit is not allowed on this connection',
      'schema audit matches "audit.*" in rule "no-audit"',
      0,
    ],
    [
      'SELECT * FROM secrets',
      'no-audit',
      'access to table secrets is not allowed on this connection',
      'table secrets matches "public.secrets" in rule "no-audit"',
      0,
    ],
    [
      'SELECT * FROM public.secrets',
      'no-audit',
      'access to table public.secrets is not allowed on this connection',
      'table public.secrets matches "public.secrets" in rule "no-audit"',
      0,
    ],
    [
      'SELECT * FROM hr.payroll',
      'no-audit',
      'access to table hr.payroll is not allowed on this connection',
      'table hr.payroll matches "payroll" in rule "no-audit"',
      0,
    ],
    ['SELECT * FROM log', 'allow'],
    ['SELECT * FROM other.secrets', 'allow'],
  ],
);

decisionTable(
  'deny_functions (globs, schema-qualified, in bodies; opaque code refused)',
  { guardrails: [{ type: 'deny_functions', name: 'fn', functions: ['pg_read_file', 'dblink*', 'pg_catalog.lo_*'] }] },
  [
    [
      "SELECT pg_read_file('/etc/passwd')",
      'fn',
      'calling pg_read_file() is not allowed on this connection',
      'function pg_read_file matches "pg_read_file" in rule "fn"',
      0,
    ],
    [
      "SELECT PG_READ_FILE('x')",
      'fn',
      'calling pg_read_file() is not allowed on this connection',
      'function pg_read_file matches "pg_read_file" in rule "fn"',
      0,
    ],
    [
      "SELECT * FROM dblink('x','y') AS t(a int)",
      'fn',
      'calling dblink() is not allowed on this connection',
      'function dblink matches "dblink*" in rule "fn"',
      0,
    ],
    [
      "SELECT lo_import('/x')",
      'fn',
      'calling lo_import() is not allowed on this connection',
      'function lo_import matches "pg_catalog.lo_*" in rule "fn"',
      0,
    ],
    [
      "SELECT pg_catalog.lo_import('/x')",
      'fn',
      'calling pg_catalog.lo_import() is not allowed on this connection',
      'function pg_catalog.lo_import matches "pg_catalog.lo_*" in rule "fn"',
      0,
    ],
    [
      "CALL pg_read_file('x')",
      'fn',
      'calling pg_read_file() is not allowed on this connection',
      'function pg_read_file matches "pg_read_file" in rule "fn"',
      0,
    ],
    [
      "DO $$ BEGIN PERFORM pg_read_file('x'); END $$",
      'fn',
      'calling pg_read_file() is not allowed on this connection',
      'function pg_read_file matches "pg_read_file" in rule "fn"',
      0,
    ],
    [
      "DO $$ BEGIN EXECUTE 'x'; END $$",
      'fn',
      'this statement contains code Warden cannot inspect (DO block: dynamic SQL (EXECUTE)); refusing it (fail closed)',
      'rule "fn" cannot verify which functions this code calls',
      0,
    ],
    ["SELECT other.lo_import('/x')", 'allow'],
    ["SELECT lower('x')", 'allow'],
  ],
);

describe('rule options', () => {
  it('denyOpaqueCode: false lets dynamic SQL through a function rule', () => {
    const policy = compilePolicy(
      { guardrails: [{ type: 'deny_functions', name: 'fn', functions: ['pg_read_file'], denyOpaqueCode: false }] },
      1,
    );
    expect(decide(policy, "DO $$ BEGIN EXECUTE 'x'; END $$").action).toBe('allow');
  });

  it('deny_copy stdin/stdout forms', () => {
    const policy = compilePolicy({ guardrails: [{ type: 'deny_copy', name: 'copy', forms: ['stdin', 'stdout'] }] }, 1);
    expect(decide(policy, 'COPY t TO STDOUT')).toEqual({
      action: 'block',
      rule: 'copy',
      message: 'COPY TO STDOUT is not allowed on this connection',
      detail: 'COPY TO STDOUT is denied by rule "copy"',
      statementIndex: 0,
    });
    expect(decide(policy, 'COPY t FROM STDIN')).toMatchObject({
      action: 'block',
      message: 'COPY FROM STDIN is not allowed on this connection',
    });
    expect(decide(policy, "COPY t TO PROGRAM 'x'").action).toBe('allow');
  });

  it('deny_tables searchPath decides which schema-wide patterns an unqualified name falls under', () => {
    const rules = (searchPath?: string[]): PolicyRules => ({
      guardrails: [{ type: 'deny_tables', name: 'audit', tables: ['audit.*'], ...(searchPath ? { searchPath } : {}) }],
    });
    expect(decide(compilePolicy(rules(), 1), 'SELECT * FROM events').action).toBe('allow');
    expect(decide(compilePolicy(rules(['audit', 'public']), 1), 'SELECT * FROM events')).toMatchObject({
      action: 'block',
      rule: 'audit',
      detail: 'table events matches "audit.*" in rule "audit"',
    });
  });

  it('a custom message replaces the default one; disabled rules do nothing; the first matching rule wins', () => {
    const policy = compilePolicy(
      {
        guardrails: [
          { type: 'deny_kinds', name: 'off', kinds: ['select'], enabled: false },
          { type: 'deny_kinds', name: 'first', kinds: ['drop'], message: 'ask the DBA' },
          { type: 'deny_tables', name: 'second', tables: ['t'] },
        ],
      },
      1,
    );
    expect(decide(policy, 'SELECT 1').action).toBe('allow');
    expect(decide(policy, 'DROP TABLE t')).toEqual({
      action: 'block',
      rule: 'first',
      message: 'ask the DBA',
      detail: 'statement kind drop is denied by rule "first"',
      statementIndex: 0,
    });
  });
});
