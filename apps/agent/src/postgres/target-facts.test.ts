import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTargetFacts } from './target-facts.js';

// Against the local Postgres (trust auth), in a database of its own.
const server = process.env.WARDEN_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = `warden_facts_${randomBytes(4).toString('hex')}`;
const role = `warden_facts_${randomBytes(4).toString('hex')}`;

async function admin(sql: string, db = 'postgres'): Promise<void> {
  const url = new URL(server);
  url.pathname = `/${db}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function factsAs(user: string, limits?: { entries: number; bytes: number }, maskedColumns?: string[]) {
  const url = new URL(server);
  url.pathname = `/${database}`;
  url.username = user;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await readTargetFacts(client, limits, maskedColumns);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await admin(`CREATE DATABASE ${database}`);
  await admin(
    `CREATE OPERATOR ### (PROCEDURE = pg_read_file, RIGHTARG = text);
     CREATE FUNCTION add2(int, int) RETURNS int LANGUAGE sql AS 'SELECT $1 + $2';
     CREATE FUNCTION fin(int) RETURNS int LANGUAGE sql AS 'SELECT $1';
     CREATE AGGREGATE total(int) (SFUNC = add2, STYPE = int, FINALFUNC = fin);
     CREATE TYPE t AS (a int);
     CREATE FUNCTION t_of(text) RETURNS t LANGUAGE sql AS 'SELECT ROW(length($1))::t';
     CREATE CAST (text AS t) WITH FUNCTION t_of(text) AS IMPLICIT;
     CREATE TABLE plain (a int);
     CREATE EXTENSION citext;
     CREATE TABLE customers (id int, email text, ssn text);
     CREATE TABLE customers_eu () INHERITS (customers);
     CREATE VIEW ssn_view AS SELECT id, upper(ssn) AS ssn_copy FROM customers;
     CREATE VIEW ssn_view_of_view AS SELECT id FROM ssn_view;
     CREATE VIEW ssn_view_3 AS SELECT * FROM ssn_view_of_view;
     CREATE MATERIALIZED VIEW ssn_matview AS SELECT ssn FROM customers;
     CREATE VIEW row_view AS SELECT c.id, row_to_json(c) AS j FROM customers c;
     CREATE VIEW count_view AS SELECT count(*) FROM customers;
     CREATE SCHEMA eu;
     CREATE VIEW eu.child_view AS SELECT ssn FROM customers_eu;
     CREATE VIEW email_view AS SELECT id, email FROM customers;
     CREATE VIEW email_view_of_view AS SELECT * FROM email_view;
     CREATE ROLE ${role} LOGIN IN ROLE pg_read_server_files;`,
    database,
  );
});

afterAll(async () => {
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin(`DROP ROLE IF EXISTS ${role}`);
});

describe('target facts', () => {
  it('reads the role: a superuser is a member of every server-file role', async () => {
    const facts = await factsAs('postgres');
    expect(facts.role).toEqual({
      superuser: true,
      createRole: true,
      serverFileRoles: ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'],
    });
    expect((await factsAs(role)).role).toEqual({
      superuser: false,
      createRole: false,
      serverFileRoles: ['pg_read_server_files'],
    });
  });

  it('reads user-defined operators, casts, aggregates and types with the functions they run', async () => {
    const { catalog, complete } = await factsAs(role);
    expect(complete).toBe(true);
    expect(catalog.operators).toContainEqual({ schema: 'public', name: '###', function: 'pg_catalog.pg_read_file' });
    expect(catalog.casts).toContainEqual({
      source: 'pg_catalog.text',
      target: 'public.t',
      function: 'public.t_of',
      context: 'i',
    });
    expect(catalog.aggregates).toContainEqual({
      schema: 'public',
      name: 'total',
      functions: ['public.add2', 'public.fin'],
    });
    // Types whose I/O is built in (a table's row type, arrays, composites) are left out.
    expect(catalog.types.map((t) => t.name)).toEqual(['citext']);
    expect(catalog.types[0]!.functions).toEqual([
      'public.citextin',
      'public.citextout',
      'public.citextrecv',
      'public.citextsend',
    ]);
  });

  it('without masked columns, reads no masking facts', async () => {
    const { catalog } = await factsAs(role);
    expect(catalog).not.toHaveProperty('maskedDependents');
    expect(catalog).not.toHaveProperty('maskedTableColumns');
  });

  it('reads the views over masked columns, through other views, whole rows and inheritance children', async () => {
    const { catalog, complete } = await factsAs(role, undefined, ['public.customers.ssn']);
    expect(complete).toBe(true);
    const ssn = 'public.customers.ssn';
    expect(catalog.maskedDependents).toEqual([
      { schema: 'eu', name: 'child_view', kind: 'view', column: ssn },
      { schema: 'public', name: 'count_view', kind: 'view', column: ssn },
      { schema: 'public', name: 'row_view', kind: 'view', column: ssn },
      { schema: 'public', name: 'ssn_matview', kind: 'materialized_view', column: ssn },
      { schema: 'public', name: 'ssn_view', kind: 'view', column: ssn },
      { schema: 'public', name: 'ssn_view_3', kind: 'view', column: ssn },
      { schema: 'public', name: 'ssn_view_of_view', kind: 'view', column: ssn },
    ]);
    const system = ['tableoid', 'cmax', 'xmax', 'cmin', 'xmin', 'ctid'];
    expect(catalog.maskedTableColumns).toEqual([
      { schema: 'public', table: 'customers', columns: [...system, 'id', 'email', 'ssn'] },
      { schema: 'public', table: 'customers_eu', columns: [...system, 'id', 'email', 'ssn'] },
    ]);
  });

  it('a masked column that does not exist gives empty masking facts', async () => {
    const { catalog } = await factsAs(role, undefined, ['public.nowhere.ssn']);
    expect(catalog.maskedDependents).toEqual([]);
    expect(catalog.maskedTableColumns).toEqual([]);
  });

  it('masking facts over the limit are reported incomplete, by list name', async () => {
    const cut = await factsAs(role, { entries: 5, bytes: 1024 * 1024 }, ['public.customers.ssn']);
    expect(cut.complete).toBe(false);
    expect(cut.truncated).toContain('maskedDependents');
    expect(cut.truncated).not.toContain('maskedTableColumns');
  });

  it('reports facts over the limits as incomplete, naming the lists, without them', async () => {
    const cut = await factsAs(role, { entries: 2, bytes: 1024 * 1024 });
    expect(cut.complete).toBe(false);
    // citext brings many operators and casts, three aggregates, one type.
    expect(cut.truncated).toEqual(['operators', 'casts', 'aggregates']);
    expect(cut.catalog).toEqual({ operators: [], casts: [], aggregates: [], types: [] });
    const big = await factsAs(role, { entries: 10_000, bytes: 100 });
    expect(big).toMatchObject({ complete: false, truncated: ['operators', 'casts', 'aggregates', 'types'] });
  });
});
