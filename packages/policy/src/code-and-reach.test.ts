import { describe, expect, it } from 'vitest';
import {
  compilePolicy,
  decide,
  defaultPolicyRules,
  SQL_TEXT_FUNCTIONS,
  STATEMENT_KINDS,
  type StatementKind,
} from './index.js';
import { one } from './test-tables.js';

const defaults = compilePolicy(defaultPolicyRules(), 'defaults');
/** Guarded, but refuses nothing by itself: what blocks is built in. */
const minimal = compilePolicy({ guardrails: [{ type: 'deny_tables', name: 'secrets', tables: ['vault.*'] }] }, 'min');

describe('statement kinds of definitions', () => {
  it.each<[string, StatementKind]>([
    ['CREATE AGGREGATE a (int) (sfunc = int4pl, stype = int)', 'create_aggregate'],
    ['CREATE OPERATOR ### (function = f, leftarg = int, rightarg = int)', 'create_operator'],
    ['CREATE TYPE t (input = t_in, output = t_out)', 'create_base_type'],
    ['CREATE TYPE t', 'create_base_type'],
    ["CREATE COLLATION c (locale = 'C')", 'create_collation'],
    ['CREATE TEXT SEARCH DICTIONARY d (template = simple)', 'create_text_search'],
    ['CREATE TEXT SEARCH PARSER p (start = s, gettoken = g, end = e, lextypes = l)', 'create_text_search'],
    ["CREATE TYPE e AS ENUM ('a')", 'create_type'],
    ['CREATE TYPE r AS RANGE (subtype = int)', 'create_type'],
  ])('%s → %s', (sql, kind) => {
    expect(one(sql).kind).toBe(kind);
    expect(STATEMENT_KINDS).toContain(kind);
  });

  it('statements in rule actions and BEGIN ATOMIC bodies are nested kinds', () => {
    expect(one('CREATE RULE r AS ON INSERT TO t DO ALSO DELETE FROM u WHERE a = 1').subKinds).toContain('delete');
    expect(
      one('CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC UPDATE t SET a = 1 WHERE b = 1; END').subKinds,
    ).toContain('update');
  });
});

describe('default.code-and-reach', () => {
  it.each([
    ['CREATE EXTENSION pageinspect', 'create_extension'],
    ['CREATE EXTENSION IF NOT EXISTS file_fdw SCHEMA public', 'create_extension'],
    ['CREATE FOREIGN DATA WRAPPER w', 'create_foreign_data_wrapper'],
    ["CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'evil')", 'create_server'],
    ["CREATE FOREIGN TABLE ft (a text) SERVER s OPTIONS (filename '/etc/passwd')", 'create_foreign_table'],
    ["CREATE USER MAPPING FOR current_user SERVER s OPTIONS (user 'postgres')", 'create_user_mapping'],
    ['IMPORT FOREIGN SCHEMA public FROM SERVER s INTO x', 'import_foreign_schema'],
    ['CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()', 'create_event_trigger'],
    ['CREATE LANGUAGE plx HANDLER plx_call_handler', 'create_language'],
    ['CREATE CAST (text AS int) WITH FUNCTION f(text) AS IMPLICIT', 'create_cast'],
    ['CREATE TRANSFORM FOR int LANGUAGE sql (FROM SQL WITH FUNCTION f(internal))', 'create_transform'],
    ['CREATE ACCESS METHOD am TYPE TABLE HANDLER heap_tableam_handler', 'create_access_method'],
    ['CREATE OPERATOR CLASS oc FOR TYPE int USING btree AS FUNCTION 1 f(int, int)', 'create_operator_class'],
    ['CREATE OPERATOR FAMILY of USING btree', 'create_operator_family'],
    ['CREATE CONVERSION c FOR $$LATIN1$$ TO $$UTF8$$ FROM f', 'create_conversion'],
    ['CREATE AGGREGATE a (int) (sfunc = f, stype = int)', 'create_aggregate'],
    ['CREATE OPERATOR ### (function = f, leftarg = int, rightarg = int)', 'create_operator'],
    ['CREATE TYPE t (input = t_in, output = t_out)', 'create_base_type'],
    ['CREATE TEXT SEARCH TEMPLATE tt (lexize = f)', 'create_text_search'],
    ['CREATE PUBLICATION p FOR ALL TABLES', 'create_publication'],
    ["CREATE SUBSCRIPTION s CONNECTION 'host=evil' PUBLICATION p", 'create_subscription'],
    ["CREATE TABLESPACE ts LOCATION '/tmp'", 'create_tablespace'],
  ])('refuses %s', (sql, kind) => {
    expect(decide(defaults, sql)).toMatchObject({
      action: 'block',
      rule: 'default.code-and-reach',
      detail: `statement kind ${kind} is denied by rule "default.code-and-reach"`,
    });
  });

  it('refuses them nested in a DO block too', () => {
    expect(decide(defaults, 'DO $$ BEGIN CREATE EXTENSION pg_surgery; END $$')).toMatchObject({
      action: 'block',
      rule: 'default.code-and-reach',
      detail: 'statement kind create_extension (inside DO) is denied by rule "default.code-and-reach"',
    });
  });

  it('ALTER SYSTEM and LOAD stay refused by default.destructive-ddl', () => {
    expect(decide(defaults, "ALTER SYSTEM SET shared_preload_libraries = 'x'")).toMatchObject({
      rule: 'default.destructive-ddl',
    });
    expect(decide(defaults, "LOAD 'plugin'")).toMatchObject({ rule: 'default.destructive-ddl' });
  });

  it('allows ordinary definitions', () => {
    for (const sql of [
      "CREATE TYPE mood AS ENUM ('ok')",
      'CREATE TYPE pair AS (a int, b int)',
      "CREATE COLLATION c (locale = 'C')",
      'CREATE TABLE t (a int)',
      'CREATE VIEW v AS SELECT 1',
    ]) {
      expect(decide(defaults, sql).action, sql).toBe('allow');
    }
  });
});

describe('functions named by definitions count as called', () => {
  const rules = compilePolicy(
    { guardrails: [{ type: 'deny_functions', name: 'no-files', functions: ['pg_read_file', 'evil*'] }] },
    1,
  );
  it.each([
    'CREATE OPERATOR ### (function = pg_read_file, leftarg = text, rightarg = text)',
    'CREATE AGGREGATE a (text) (sfunc = pg_catalog.pg_read_file, stype = text)',
    'CREATE CAST (text AS int) WITH FUNCTION pg_read_file(text)',
    'CREATE TYPE t (input = evil_in, output = textout)',
    'CREATE TYPE r AS RANGE (subtype = float8, subtype_diff = evil_diff)',
    'CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION evil_trigger()',
    'CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION evil_event()',
    'CREATE OPERATOR CLASS oc FOR TYPE int USING btree AS FUNCTION 1 evil_cmp(int, int)',
  ])('%s', (sql) => {
    expect(decide(rules, sql)).toMatchObject({ action: 'block', rule: 'no-files' });
  });
});

describe('built-in sql-text check', () => {
  it.each([
    "SELECT query_to_xml('select * from vault.secrets', true, false, '')",
    "SELECT query_to_xml_and_xmlschema('select 1', true, false, '')",
    "SELECT table_to_xml('vault.secrets', true, false, '')",
    "SELECT cursor_to_xml('c', 10, true, false, '')",
    "SELECT schema_to_xml('vault', true, false, '')",
    "SELECT database_to_xmlschema(true, false, '')",
    "SELECT * FROM ts_stat('select body from vault.secrets')",
    "SELECT ts_rewrite('a'::tsquery, 'select a, b from aliases')",
    "SELECT * FROM crosstab('select a, b, c from vault.secrets') AS ct(a text, b text)",
    "SELECT * FROM connectby('vault.secrets', 'id', 'parent', '1', 0) AS t(id int, p int, l int)",
    "SELECT * FROM xpath_table('id', 'doc', 'vault.secrets', '/a', 'true') AS t(id int, a text)",
    "SELECT dblink('dbname=x', 'select 1')",
    "SELECT get_raw_page('vault.secrets', 0)",
    "SELECT * FROM bt_page_items('secrets_pkey', 1)",
    "SELECT * FROM pgstattuple('vault.secrets')",
    "SELECT * FROM pg_logical_slot_peek_changes('s', NULL, NULL)",
    "DO $$ BEGIN PERFORM query_to_xml('select 1', true, false, ''); END $$",
    "WITH x AS (SELECT pg_catalog.query_to_xml('select 1', true, false, '') AS q) SELECT * FROM x",
  ])('refuses %s on any guarded connection', (sql) => {
    const d = decide(minimal, sql);
    expect(d).toMatchObject({ action: 'block', rule: 'sql-text' });
    expect(d.action === 'block' && d.message).toMatch(/runs SQL given as text or reads a table named in a string/);
  });

  it('the three-argument ts_rewrite takes no SQL and is allowed', () => {
    expect(decide(minimal, "SELECT ts_rewrite('a'::tsquery, 'a'::tsquery, 'b'::tsquery)").action).toBe('allow');
  });

  it('names the function and the list entry it matched', () => {
    expect(decide(minimal, "SELECT crosstab3('select 1')")).toEqual({
      action: 'block',
      rule: 'sql-text',
      message:
        'crosstab3() runs SQL given as text or reads a table named in a string, which Warden cannot judge; it is not allowed on this connection',
      detail: 'function crosstab3 matches "crosstab*" in the built-in list of SQL-text functions',
      statementIndex: 0,
    });
  });

  it('does not apply where nothing is enforced; the list stays exported', () => {
    expect(decide(compilePolicy({}, 1), "SELECT query_to_xml('select 1', true, false, '')").action).toBe('allow');
    expect(SQL_TEXT_FUNCTIONS).toEqual(
      expect.arrayContaining(['query_to_xml*', 'ts_stat', 'crosstab*', 'xpath_table']),
    );
  });
});

describe('analysis: operators and cast types', () => {
  it('records operators however they are written', () => {
    const s = one(
      'SELECT a OPERATOR(s.###) b, a ~~ b, a IN (1, 2), a BETWEEN 1 AND 2, a = ANY (ARRAY[1]) FROM t WHERE a IN (SELECT 1) AND (a, b) < ALL (SELECT 1, 2) ORDER BY a USING OPERATOR(s.<<<)',
    );
    expect(s.operators).toEqual(
      expect.arrayContaining([
        { schema: 's', name: '###' },
        { name: '~~' },
        { name: '=' },
        { name: '<=' },
        { name: '>=' },
        { name: '<' },
        { schema: 's', name: '<<<' },
      ]),
    );
  });

  it('records cast target types, including the type-literal form and array element types', () => {
    const s = one("SELECT x::s.t[], CAST(y AS varchar(3)), int4 '1', z::mytype FROM q");
    expect(s.castTypes).toEqual([
      { schema: 's', name: 't' },
      { schema: 'pg_catalog', name: 'varchar' },
      { name: 'int4' },
      { name: 'mytype' },
    ]);
  });

  it('records argument counts of calls', () => {
    const s = one("SELECT ts_rewrite(a, 'q'), ts_rewrite(a, b, c) FROM t");
    expect(s.functions.find((f) => f.name === 'ts_rewrite')?.argCounts).toEqual([2, 3]);
  });
});
