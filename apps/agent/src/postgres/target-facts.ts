import type { CatalogReport, SessionFactsReport, TargetRoleReport } from '@warden/proto';
import type pg from 'pg';

/**
 * Reads what policy needs to know about a guarded session's target before anything is
 * relayed, on the logged-in driver (connectTarget's beforeTakeover): the login role's
 * attributes, which no statement policy can contain, and the user-defined catalog
 * objects through which a statement runs a function without naming it. Two round trips.
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

export interface FactsLimits {
  /** Entries per catalog list. */
  entries: number;
  /** Bytes of the catalog lists as JSON. */
  bytes: number;
}

const DEFAULT_LIMITS: FactsLimits = { entries: MAX_CATALOG_ENTRIES, bytes: MAX_FACTS_BYTES };

/** Reads the facts of the target the driver is logged in to. */
export async function readTargetFacts(
  client: pg.Client,
  limits: FactsLimits = DEFAULT_LIMITS,
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
  // Partial facts are refused by the gateway: a cut catalog is reported by list name only.
  const lists = ['operators', 'casts', 'aggregates', 'types'] as const;
  let truncated: string[] = lists.filter((name) => catalog[name].length > limits.entries);
  if (!truncated.length && Buffer.byteLength(JSON.stringify(catalog)) > limits.bytes) truncated = [...lists];
  if (truncated.length) {
    const empty: CatalogReport = { operators: [], casts: [], aggregates: [], types: [] };
    return { role, catalog: empty, complete: false, truncated };
  }
  return { role, catalog, complete: true };
}
