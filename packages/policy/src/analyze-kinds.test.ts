import { describe, expect, it } from 'vitest';
import { analyze, type StatementKind } from './index.js';
import { one } from './test-tables.js';

describe('statement kinds', () => {
  const cases: Array<[string, StatementKind, StatementKind?]> = [
    ['SELECT 1', 'select'],
    ['VALUES (1)', 'select'],
    ['TABLE t', 'select'],
    ['INSERT INTO t VALUES (1)', 'insert'],
    ['UPDATE t SET a = 1 WHERE b = 2', 'update'],
    ['DELETE FROM t WHERE a = 1', 'delete'],
    ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'merge'],
    ['COPY t TO STDOUT', 'copy'],
    ['CREATE TABLE t2 AS SELECT 1', 'create_table_as', 'select'],
    ['SELECT 1 INTO t2', 'create_table_as'],
    ['CREATE MATERIALIZED VIEW m AS SELECT 1', 'create_materialized_view', 'select'],
    ['REFRESH MATERIALIZED VIEW m', 'refresh_materialized_view'],
    ['CREATE TABLE t (a int)', 'create_table'],
    ['CREATE VIEW v AS SELECT 1', 'create_view'],
    ['CREATE INDEX ON t (a)', 'create_index'],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", 'create_function'],
    ["CREATE PROCEDURE p() LANGUAGE sql AS 'select 1'", 'create_procedure'],
    ['CREATE SCHEMA s', 'create_schema'],
    ['CREATE EXTENSION e', 'create_extension'],
    ['CREATE SEQUENCE s', 'create_sequence'],
    ['CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()', 'create_trigger'],
    ['CREATE TYPE ty AS (a int)', 'create_type'],
    ['CREATE DOMAIN d AS int', 'create_domain'],
    ['CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING', 'create_rule'],
    ['CREATE POLICY p ON t USING (true)', 'create_policy'],
    ['CREATE DATABASE d', 'create_database'],
    ['CREATE AGGREGATE a (int) (sfunc = int4pl, stype = int)', 'create_aggregate'],
    ['ALTER TABLE t ADD COLUMN b int', 'alter_table'],
    ['ALTER FUNCTION f() OWNER TO x', 'alter_owner'],
    ['ALTER TABLE t RENAME TO u', 'alter_rename'],
    ['ALTER TABLE t SET SCHEMA s', 'alter_object_schema'],
    ['ALTER SYSTEM SET work_mem = 1', 'alter_system'],
    ['ALTER DATABASE d SET x = 1', 'alter_database'],
    ['ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO x', 'alter_default_privileges'],
    ["ALTER TYPE e ADD VALUE 'b'", 'alter_other'],
    ['DROP TABLE t', 'drop'],
    ['DROP DATABASE d', 'drop_database'],
    ['DROP OWNED BY x', 'drop_owned'],
    ['REASSIGN OWNED BY a TO b', 'reassign_owned'],
    ['TRUNCATE t', 'truncate'],
    ["COMMENT ON TABLE t IS 'x'", 'comment'],
    ['CREATE ROLE r', 'create_role'],
    ['CREATE USER u', 'create_role'],
    ['ALTER ROLE r SUPERUSER', 'alter_role'],
    ["ALTER USER u WITH PASSWORD 'x'", 'alter_role'],
    ['DROP ROLE r', 'drop_role'],
    ['DROP USER u', 'drop_role'],
    ['GRANT SELECT ON t TO u', 'grant'],
    ['GRANT r TO u', 'grant'],
    ['REVOKE ALL ON t FROM u', 'revoke'],
    ['REVOKE r FROM u', 'revoke'],
    ['CALL p()', 'call'],
    ['DO $$ BEGIN NULL; END $$', 'do'],
    ['SET search_path = a', 'set'],
    ['RESET ALL', 'reset'],
    ['SHOW work_mem', 'show'],
    ['DISCARD ALL', 'discard'],
    ['BEGIN', 'transaction'],
    ['START TRANSACTION READ ONLY', 'transaction'],
    ['COMMIT', 'transaction'],
    ['ROLLBACK', 'transaction'],
    ['SAVEPOINT s', 'transaction'],
    ['SET CONSTRAINTS ALL DEFERRED', 'set_constraints'],
    ['EXPLAIN SELECT 1', 'explain', 'select'],
    ['EXPLAIN (ANALYZE) DELETE FROM t WHERE a = 1', 'explain', 'delete'],
    ['PREPARE p AS SELECT 1', 'prepare', 'select'],
    ['EXECUTE p', 'execute'],
    ['DEALLOCATE p', 'deallocate'],
    ['DECLARE c CURSOR FOR SELECT 1', 'declare_cursor', 'select'],
    ['FETCH 10 FROM c', 'fetch'],
    ['MOVE 10 IN c', 'move'],
    ['CLOSE c', 'close_cursor'],
    ['LISTEN ch', 'listen'],
    ['UNLISTEN ch', 'unlisten'],
    ["NOTIFY ch, 'x'", 'notify'],
    ["LOAD 'x'", 'load'],
    ['VACUUM t', 'vacuum'],
    ['ANALYZE t', 'analyze'],
    ['CLUSTER t USING i', 'cluster'],
    ['REINDEX TABLE t', 'reindex'],
    ['CHECKPOINT', 'checkpoint'],
    ['LOCK TABLE t', 'lock'],
  ];
  it.each(cases)('%s → %s', (sql, kind, innerKind) => {
    const s = one(sql);
    expect(s.kind).toBe(kind);
    expect(s.innerKind).toBe(innerKind);
  });

  it('records the parser node type and EXPLAIN ANALYZE', () => {
    expect(one('EXPLAIN (ANALYZE, BUFFERS) SELECT 1')).toMatchObject({ nodeType: 'ExplainStmt', explainAnalyze: true });
    expect(one('EXPLAIN (ANALYZE false) SELECT 1')).toMatchObject({ explainAnalyze: false });
    expect(one('EXPLAIN SELECT 1').explainAnalyze).toBe(false);
  });
});

describe('statements, tables, schemas, functions', () => {
  it('splits multi-statement strings with each statement text (byte offsets, non-ASCII too)', () => {
    const r = analyze("SELECT 'é' ; DELETE FROM t WHERE a = 1;; BEGIN");
    expect(r.ok && r.statements.map((s) => [s.index, s.kind, s.text])).toEqual([
      [0, 'select', "SELECT 'é'"],
      [1, 'delete', 'DELETE FROM t WHERE a = 1'],
      [2, 'transaction', 'BEGIN'],
    ]);
  });

  it('empty strings and lone semicolons have no statements', () => {
    for (const sql of ['', '   ', ';', ' ; ;', '-- just a comment'])
      expect(analyze(sql)).toEqual({ ok: true, statements: [] });
  });

  it('parse failure is a typed result with the parser message and position', () => {
    expect(analyze('SELEC 1')).toEqual({ ok: false, message: 'syntax error at or near "SELEC"', position: 0 });
    expect(analyze('SELECT 1; SELECT FROM WHERE')).toMatchObject({
      ok: false,
      message: expect.stringContaining('syntax error'),
    });
  });

  it('tables are schema-qualified when written so, with their access, and CTE names are not tables', () => {
    const s = one('WITH c AS (SELECT * FROM audit.log) INSERT INTO public.t SELECT x.a FROM c JOIN s.u x ON true');
    expect(s.tables).toEqual([
      { schema: 'audit', name: 'log', access: 'read' },
      { schema: 'public', name: 't', access: 'write' },
      { schema: 's', name: 'u', access: 'read' },
    ]);
    expect(s.schemas.sort()).toEqual(['audit', 'public', 's']);
  });

  it('DDL objects are tables with ddl access; schema statements name schemas', () => {
    expect(one('DROP TABLE a.b, c').tables).toEqual([
      { schema: 'a', name: 'b', access: 'ddl' },
      { name: 'c', access: 'ddl' },
    ]);
    expect(one('ALTER TABLE x.y ADD COLUMN z int').tables).toEqual([{ schema: 'x', name: 'y', access: 'ddl' }]);
    expect(one('TRUNCATE a, b.c').tables).toEqual([
      { name: 'a', access: 'write' },
      { schema: 'b', name: 'c', access: 'write' },
    ]);
    expect(one('DROP SCHEMA audit CASCADE').schemas).toEqual(['audit']);
    expect(one('GRANT USAGE ON SCHEMA audit TO x').schemas).toEqual(['audit']);
    expect(one('GRANT SELECT ON ALL TABLES IN SCHEMA audit TO x').schemas).toEqual(['audit']);
    expect(one('CREATE SCHEMA audit').schemas).toEqual(['audit']);
  });

  it('functions are listed once, schema-qualified when written so, wherever they are called', () => {
    const s = one(
      "SELECT lower(a), pg_catalog.pg_read_file('x'), lower(b) FROM generate_series(1, 2) g, t WHERE now() > x ORDER BY abs(y)",
    );
    expect(s.functions.map((f) => [f.schema, f.name])).toEqual([
      [undefined, 'generate_series'],
      [undefined, 'lower'],
      ['pg_catalog', 'pg_read_file'],
      [undefined, 'now'],
      [undefined, 'abs'],
    ]);
    expect(one('CALL s.p(1)').functions.map((f) => [f.schema, f.name])).toEqual([['s', 'p']]);
  });

  it('UPDATE/DELETE WHERE: present, missing, or not referencing any column', () => {
    expect(one('DELETE FROM t WHERE id = 1')).toMatchObject({ hasWhere: true, unfilteredWrites: [], writes: true });
    expect(one('DELETE FROM t')).toMatchObject({
      hasWhere: false,
      unfilteredWrites: [{ kind: 'delete', table: { name: 't' } }],
    });
    expect(one('UPDATE s.t SET a = 1 WHERE 1 = 1')).toMatchObject({
      hasWhere: false,
      unfilteredWrites: [{ kind: 'update', table: { schema: 's', name: 't' } }],
    });
    expect(one('UPDATE t SET a = 1 WHERE CURRENT OF c')).toMatchObject({ hasWhere: true });
    expect(one('WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d')).toMatchObject({
      kind: 'select',
      writes: true,
      dataModifyingCte: true,
      subKinds: ['delete'],
      unfilteredWrites: [{ kind: 'delete', table: { name: 't' } }],
    });
    expect(one('EXPLAIN ANALYZE UPDATE t SET a = 1').unfilteredWrites).toEqual([
      { kind: 'update', table: { name: 't' } },
    ]);
  });

  it('COPY details', () => {
    expect(one('COPY t (a, b) TO STDOUT').copy).toEqual({
      direction: 'to',
      format: 'text',
      target: 'stdio',
      query: false,
      relation: { name: 't' },
      columns: ['a', 'b'],
    });
    expect(one("COPY s.t FROM '/etc/passwd'")).toMatchObject({
      writes: true,
      copy: {
        direction: 'from',
        target: 'file',
        filename: '/etc/passwd',
        query: false,
        relation: { schema: 's', name: 't' },
      },
    });
    expect(one("COPY (SELECT 1) TO PROGRAM 'curl x'").copy).toEqual({
      direction: 'to',
      format: 'text',
      target: 'program',
      filename: 'curl x',
      query: true,
    });
    expect(one('COPY t FROM STDIN').copy).toMatchObject({ direction: 'from', target: 'stdio' });
  });

  it('SELECT INTO and CREATE TABLE AS name their target', () => {
    expect(one('SELECT a INTO s.copy FROM t')).toMatchObject({
      kind: 'create_table_as',
      writes: true,
      into: { schema: 's', name: 'copy' },
    });
    expect(one('CREATE TABLE c AS SELECT a FROM t')).toMatchObject({ writes: true, into: { name: 'c' } });
  });

  it('SELECT ... FOR UPDATE locks', () => {
    expect(one('SELECT a FROM t FOR UPDATE').locking).toBe(true);
    expect(one('SELECT a FROM t').locking).toBe(false);
  });
});
