import { catalogQueryParams, MASKED_RELATIONS_CTES } from '@warden/masking';
import type { CatalogReport, SessionFactsReport, TargetRoleReport } from '@warden/proto';
import type pg from 'pg';

/**
 * Reads what policy needs to know about a guarded session's target before anything is
 * relayed, on the logged-in driver (connectTarget's beforeTakeover): the login role's
 * attributes, which no statement policy can contain, and the user-defined catalog
 * objects through which a statement runs a function without naming it. Two round trips, and a
 * third when the session masks columns (the views over masked columns and the masked tables'
 * columns, see {@link MASKING_FACTS_QUERY}).
 */

/** Largest number of entries per catalog list; above it the facts are reported incomplete. */
export const MAX_CATALOG_ENTRIES = 4000;

/**
 * Largest facts report in bytes: it travels in one tunnel message (grpc-js refuses messages over
 * 4 MiB by default). Above it the facts are reported incomplete, without the catalog lists.
 */
export const MAX_FACTS_BYTES = 1024 * 1024;

const SERVER_FILE_ROLES = ['pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program'];

// pg_roles filtered first: pg_has_role() errors on a role that does not exist. A superuser is a
// member of every role, so it is reported as a member of all three.
const ROLE_QUERY = `
SELECT r.rolsuper AS superuser,
       r.rolcreaterole AS create_role,
       ARRAY(SELECT g.rolname::text FROM pg_roles g
             WHERE g.rolname = ANY($1::text[]) AND pg_has_role(current_user, g.oid, 'MEMBER')
             ORDER BY 1) AS server_file_roles,
       current_setting('server_version_num')::int AS server_version
FROM pg_roles r WHERE r.rolname = current_user`;

interface RoleRow {
  superuser: boolean;
  create_role: boolean;
  server_file_roles: string[];
  server_version: number;
}

/** `schema.name` of a pg_proc row `p` joined to its namespace `pn`. */
const QUALIFIED = (ns: string, rel: string, name: string) => `${ns}.nspname || '.' || ${rel}.${name}`;

/** The qualified names of the functions among `oids`, sorted, without 0 (none). */
const functionNames = (oids: string[]) => `ARRAY(
    SELECT DISTINCT ${QUALIFIED('fn', 'f', 'proname')} FROM pg_proc f JOIN pg_namespace fn ON fn.oid = f.pronamespace
    WHERE f.oid IN (${oids.map((o) => `${o}::oid`).join(', ')}) ORDER BY 1)`;

/** One list as a JSON array, at most `limit` + 1 rows so that going over is visible. */
const jsonList = (select: string, limit: number) =>
  `(SELECT coalesce(json_agg(x), '[]'::json) FROM (${select} LIMIT ${limit + 1}) x)`;

// Built-in objects (OID < 16384) are known to policy by name; only user-defined ones are read.
// Types: those whose I/O runs a user-defined function. The others (every table's row type, array
// types, enums, domains) get built-in I/O functions and would only make the list long; a base type
// cannot have built-in ones (its input function must return it, its output function take it).
function catalogQuery(serverVersion: number, limit: number): string {
  const typeIo = ['typinput', 'typoutput', 'typreceive', 'typsend', 'typmodin', 'typmodout', 'typanalyze'];
  if (serverVersion >= 140000) typeIo.push('typsubscript');
  const aggFns = [
    'aggtransfn',
    'aggfinalfn',
    'aggcombinefn',
    'aggserialfn',
    'aggdeserialfn',
    'aggmtransfn',
    'aggminvtransfn',
    'aggmfinalfn',
  ];
  const operators = `
    SELECT DISTINCT n.nspname AS schema, o.oprname AS name, ${QUALIFIED('pn', 'p', 'proname')} AS function
    FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
    JOIN pg_proc p ON p.oid = o.oprcode::oid JOIN pg_namespace pn ON pn.oid = p.pronamespace
    WHERE o.oid >= 16384 ORDER BY 1, 2, 3`;
  const casts = `
    SELECT DISTINCT ${QUALIFIED('sn', 'st', 'typname')} AS source, ${QUALIFIED('tn', 'tt', 'typname')} AS target,
           ${QUALIFIED('pn', 'p', 'proname')} AS function, c.castcontext::text AS context
    FROM pg_cast c
    JOIN pg_type st ON st.oid = c.castsource JOIN pg_namespace sn ON sn.oid = st.typnamespace
    JOIN pg_type tt ON tt.oid = c.casttarget JOIN pg_namespace tn ON tn.oid = tt.typnamespace
    JOIN pg_proc p ON p.oid = c.castfunc JOIN pg_namespace pn ON pn.oid = p.pronamespace
    WHERE c.oid >= 16384 AND c.castfunc <> 0 ORDER BY 1, 2, 3, 4`;
  // Overloads of one aggregate name are merged: a call names the aggregate, not its argument types.
  const aggregates = `
    SELECT schema, name, array_agg(DISTINCT fns ORDER BY fns) AS functions FROM (
      SELECT n.nspname AS schema, p.proname AS name, fns
      FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid JOIN pg_namespace n ON n.oid = p.pronamespace
      CROSS JOIN LATERAL unnest(${functionNames(aggFns.map((c) => `a.${c}`))}) fns
      WHERE a.aggfnoid >= 16384) g
    GROUP BY schema, name ORDER BY 1, 2`;
  const types = `
    SELECT n.nspname AS schema, t.typname AS name, ${functionNames(typeIo.map((c) => `t.${c}`))} AS functions
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE t.oid >= 16384
      AND GREATEST(${typeIo.map((c) => `t.${c}::oid`).join(', ')}) >= 16384
    ORDER BY 1, 2`;
  return `SELECT ${jsonList(operators, limit)} AS operators, ${jsonList(casts, limit)} AS casts,
                 ${jsonList(aggregates, limit)} AS aggregates, ${jsonList(types, limit)} AS types`;
}

/**
 * What masking needs from the catalog beyond the column rules, as two JSON lists, with the rules'
 * schemas, tables and columns as three text arrays ($1, $2, $3) and the list bound as $4:
 *
 * - `maskedDependents`: views and materialized views whose rewrite rule depends on a masked column,
 *   on its whole table (`refobjsubid` 0: `count(*)`), or reads a whole row of any table it depends
 *   on (a whole-row Var adds no column dependency, and Postgres drops the whole-table one as soon as
 *   the view names any column, so `SELECT c.id, row_to_json(c)` is found by the rule's node tree),
 *   then every view or materialized view depending on one of those at all (which of its columns
 *   carries the value is not recorded, so any use counts). Only views and materialized views carry
 *   the dependency on (a rule on a table that copies values elsewhere moves them to another table).
 * - `maskedTableColumns`: every column, system columns included, of each table with masked columns.
 *
 * Tables are found as the masker finds them (@warden/masking's MASKED_RELATIONS_CTES): the named
 * relation and every partition or inheritance child below it.
 */
export const MASKING_FACTS_QUERY = `WITH RECURSIVE ${MASKED_RELATIONS_CTES}, masked AS (
  SELECT t.schema || '.' || t.tbl || '.' || t.col AS source, t.relid, a.attnum
  FROM tree t
  JOIN pg_catalog.pg_attribute a ON a.attrelid = t.relid AND a.attname = t.col AND a.attnum > 0 AND NOT a.attisdropped
), dependents(relid, source) AS (
  SELECT r.ev_class, m.source
  FROM masked m
  JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = m.relid
   AND d.classid = 'pg_catalog.pg_rewrite'::regclass
  JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid AND r.ev_class <> m.relid
  JOIN pg_catalog.pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
  WHERE d.refobjsubid IN (0, m.attnum) OR r.ev_action::text LIKE '%:varattno 0 %'
  UNION
  SELECT r.ev_class, dep.source
  FROM dependents dep
  JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = dep.relid
   AND d.classid = 'pg_catalog.pg_rewrite'::regclass
  JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid AND r.ev_class <> dep.relid
  JOIN pg_catalog.pg_class v ON v.oid = r.ev_class AND v.relkind IN ('v', 'm')
)
SELECT
  (SELECT coalesce(json_agg(x), '[]'::json) FROM (
     SELECT DISTINCT n.nspname AS schema, c.relname AS name,
            CASE c.relkind WHEN 'm' THEN 'materialized_view' ELSE 'view' END AS kind, dep.source AS column
     FROM dependents dep JOIN pg_catalog.pg_class c ON c.oid = dep.relid
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     ORDER BY 1, 2, 4 LIMIT $4::int + 1) x) AS "maskedDependents",
  (SELECT coalesce(json_agg(x), '[]'::json) FROM (
     SELECT n.nspname AS schema, c.relname AS "table",
            ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = c.oid AND NOT a.attisdropped ORDER BY a.attnum) AS columns
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid IN (SELECT relid FROM masked)
     ORDER BY 1, 2 LIMIT $4::int + 1) x) AS "maskedTableColumns"`;

type MaskingFacts = Required<Pick<CatalogReport, 'maskedDependents' | 'maskedTableColumns'>>;

async function readMaskingFacts(client: pg.Client, maskedColumns: readonly string[], limit: number) {
  const params = [...catalogQueryParams(maskedColumns.map((column) => ({ column }))), limit];
  const { rows } = await client.query<MaskingFacts>(MASKING_FACTS_QUERY, params);
  return rows[0]!;
}

export interface FactsLimits {
  /** Entries per catalog list. */
  entries: number;
  /** Bytes of the catalog lists as JSON. */
  bytes: number;
}

const DEFAULT_LIMITS: FactsLimits = { entries: MAX_CATALOG_ENTRIES, bytes: MAX_FACTS_BYTES };

/**
 * Reads the facts of the target the driver is logged in to. `maskedColumns` are the session's
 * column rules (`schema.table.column`, as the gateway sends them); with any, the masking facts are
 * read too.
 */
export async function readTargetFacts(
  client: pg.Client,
  limits: FactsLimits = DEFAULT_LIMITS,
  maskedColumns: readonly string[] = [],
): Promise<SessionFactsReport> {
  const roleRows = await client.query<RoleRow>(ROLE_QUERY, [SERVER_FILE_ROLES]);
  const row = roleRows.rows[0];
  if (!row) throw new Error('the target did not describe the login role');
  const role: TargetRoleReport = {
    superuser: row.superuser,
    createRole: row.create_role,
    serverFileRoles: row.server_file_roles,
  };
  const { rows } = await client.query<CatalogReport>(catalogQuery(row.server_version, limits.entries));
  const catalog = rows[0]!;
  const lists: (keyof CatalogReport)[] = ['operators', 'casts', 'aggregates', 'types'];
  if (maskedColumns.length > 0) {
    Object.assign(catalog, await readMaskingFacts(client, maskedColumns, limits.entries));
    lists.push('maskedDependents', 'maskedTableColumns');
  }
  // Partial facts are refused by the gateway: a cut catalog is reported by list name only.
  let truncated: string[] = lists.filter((name) => (catalog[name]?.length ?? 0) > limits.entries);
  if (!truncated.length && Buffer.byteLength(JSON.stringify(catalog)) > limits.bytes) truncated = [...lists];
  if (truncated.length) {
    const empty: CatalogReport = { operators: [], casts: [], aggregates: [], types: [] };
    return { role, catalog: empty, complete: false, truncated };
  }
  return { role, catalog, complete: true };
}
