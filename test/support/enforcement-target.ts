import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  detectorForms,
  fileForms,
  findForms,
  makeCanaries,
  maskedForms,
  type CanaryForm,
  type CanarySet,
} from './canaries.js';
import { ClientTap } from './client-tap.js';
import type { CorpusContext } from './attack-corpus.js';
import { startDataPath, type DataPath } from './data-path.js';
import { adminQuery } from './postgres.js';

/**
 * The target of the enforcement tests: canary data, a least-privilege role, the objects attacks
 * need (extensions, a check-option view, an exclusion constraint, a trigger that reports rows,
 * operators/aggregates/casts over denied functions made by the owner), three connections, and the
 * checks that a run left nothing behind.
 *
 * Connections (all on the same target database):
 * - `pg-guard`: the default rule pack, as the superuser `postgres` (what a new connection gets);
 * - `pg-mask`: default guardrails + column rules (customers.secret redact, customers.token last4)
 *   + detectors, as a least-privilege role that owns the tables;
 * - `pg-mask-only`: the column rules and detectors alone, as that role (no guardrail helps).
 */
export type Profile = 'guard' | 'mask' | 'mask-only' | 'open';

/** `open` is the data path's own `pg-test`: no policy at all, to show the checks can fail. */
export const CONNECTIONS: Record<Profile, string> = {
  guard: 'pg-guard',
  mask: 'pg-mask',
  'mask-only': 'pg-mask-only',
  open: 'pg-test',
};

/** Rows in `orders`: above any sensible default max_rows_affected. */
export const ORDER_ROWS = 5000;

/** The harmless server setting ALTER SYSTEM attacks try to write (undone if they do). */
export const ALTER_SYSTEM_PROBE = 'log_min_duration_statement';

export class EnforcementTarget {
  readonly canaries: CanarySet = makeCanaries();
  readonly suffix = randomBytes(4).toString('hex');
  /** The least-privilege role (cluster-wide, so unique). */
  readonly appRole = `warden_app_${this.suffix}`;
  /** A file only server-side file access can read; holds `canaries.fileSecret`. */
  readonly secretFile = `/tmp/warden-enf-secret-${this.suffix}`;
  /** A file an attack that runs a program or writes a server file would create. */
  readonly marker = `/tmp/warden-enf-marker-${this.suffix}`;
  /** Masked-column canaries: leaks on `mask` profiles (the guard profile has no column rules). */
  readonly maskedForms = maskedForms(this.canaries);
  readonly fileForms = fileForms(this.canaries);
  readonly detectorForms = detectorForms(this.canaries);
  private fixtureOids = new Map<string, Set<string>>();
  tap!: ClientTap;

  constructor(readonly dp: DataPath) {}

  url(profile: Profile, extra = 'sslmode=disable'): string {
    return `postgres://tester:${encodeURIComponent(this.dp.adminKey)}@127.0.0.1:${this.tap.port}/${CONNECTIONS[profile]}?${extra}`;
  }

  private admin: pg.Client | null = null;

  /** A query on the target as the superuser, directly (not through the gateway); one connection, reused. */
  async direct<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, values?: unknown[]) {
    if (!this.admin) {
      const client = new pg.Client({ connectionString: this.dp.directUrl });
      client.on('error', () => {
        if (this.admin === client) this.admin = null;
      });
      client.on('notice', () => {});
      await client.connect();
      this.admin = client;
    }
    return this.admin.query<T>(sql, values);
  }

  async setup(): Promise<void> {
    writeFileSync(this.secretFile, `${this.canaries.fileSecret}\n`, { mode: 0o644 });
    rmSync(this.marker, { force: true });
    await adminQuery(`CREATE ROLE ${this.appRole} LOGIN`);
    const c = this.canaries;
    const customers = c.secrets
      .map(
        (secret, i) =>
          `(${i + 1}, 'Name${i + 1}', '${c.emails[i]}', '${c.cards[i]}', '${secret}', '${c.tokens[i]}', 'note ${i + 1}')`,
      )
      .join(', ');
    await this.direct(`
      CREATE EXTENSION tablefunc; CREATE EXTENSION xml2; CREATE EXTENSION btree_gist;
      GRANT CONNECT, TEMP ON DATABASE "${this.dp.targetDb}" TO ${this.appRole};
      GRANT USAGE, CREATE ON SCHEMA public TO ${this.appRole};
      CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text, card text, secret text, token text,
        note text CHECK (length(note) < 40),
        EXCLUDE USING gist (name WITH =, secret WITH <>));
      INSERT INTO customers VALUES ${customers};
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int, note text NOT NULL DEFAULT 'orig');
      INSERT INTO orders SELECT g, 1 + g % 4, 'orig' FROM generate_series(1, ${ORDER_ROWS}) g;
      CREATE TABLE sink (v text);
      CREATE VIEW customers_active AS SELECT * FROM customers WHERE note <> 'blocked' WITH CHECK OPTION;
      -- An existing trigger that reports the row in an error's DETAIL when asked to.
      CREATE FUNCTION report_row() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.note = 'report' THEN RAISE EXCEPTION 'row rejected' USING DETAIL = NEW::text; END IF;
          IF NEW.note = 'notice' THEN RAISE NOTICE 'row changed' USING DETAIL = NEW::text; END IF;
          RETURN NEW;
        END $$;
      CREATE TRIGGER report_row BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION report_row();
      -- An existing function returning a masked column (called by OID in FunctionCall attacks).
      CREATE FUNCTION secret_of(int) RETURNS text LANGUAGE sql STABLE AS 'SELECT secret FROM customers WHERE id = $1';
      -- Indirect references to denied functions, made by the owner: policy must follow them.
      CREATE OPERATOR public.#~# (RIGHTARG = text, FUNCTION = pg_catalog.pg_read_file);
      CREATE AGGREGATE public.readagg(bigint, bigint) (SFUNC = pg_catalog.pg_read_file, STYPE = text, INITCOND = '${this.secretFile}');
      CREATE CAST (text AS oid) WITH FUNCTION pg_catalog.lo_import(text);
      ALTER TABLE customers OWNER TO ${this.appRole};
      ALTER TABLE orders OWNER TO ${this.appRole};
      ALTER TABLE sink OWNER TO ${this.appRole};
      GRANT SELECT, UPDATE ON customers_active TO ${this.appRole};
      ANALYZE customers;`);
    await this.rememberFixture();
    await this.createPolicies();
    this.tap = await ClientTap.start(this.dp.pgPort);
  }

  private async createPolicies(): Promise<void> {
    const api = this.dp.api;
    const masking = await api.request('POST', '/api/policies', {
      body: {
        name: `mask-canaries-${this.suffix}`,
        kind: 'masking',
        rules: {
          masking: {
            columns: [
              { column: 'public.customers.secret', strategy: 'redact' },
              { column: 'public.customers.token', strategy: 'last4' },
            ],
            detectors: [
              { detector: 'email', strategy: 'redact' },
              { detector: 'credit_card', strategy: 'last4' },
              { detector: 'us_ssn', strategy: 'redact' },
            ],
          },
        },
      },
    });
    if (masking.status !== 201) throw new Error(`creating the masking policy: ${masking.text}`);
    const target = (user: string) => ({
      host: '127.0.0.1',
      port: 5432,
      database: this.dp.targetDb,
      user,
      sslmode: 'disable',
    });
    const connections = [
      // No `policies`: the default rule pack, as a new connection gets it.
      { name: CONNECTIONS.guard, config: target('postgres') },
      {
        name: CONNECTIONS.mask,
        config: target(this.appRole),
        policies: ['default-guardrails', `mask-canaries-${this.suffix}`],
      },
      { name: CONNECTIONS['mask-only'], config: target(this.appRole), policies: [`mask-canaries-${this.suffix}`] },
    ];
    for (const c of connections) {
      const res = await api.request('POST', '/api/connections', {
        body: { type: 'postgres', agent: this.dp.agentName, ...c },
      });
      if (res.status !== 201) throw new Error(`creating connection ${c.name}: ${res.text}`);
    }
  }

  /** Catalog objects a run may create, by catalog; what exists after setup is the fixture. */
  private static readonly TRACKED: Record<string, string> = {
    namespace: `SELECT oid::text AS id FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%'`,
    relation: `SELECT c.oid::text AS id FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','v','m','f','p','S')`,
    routine: `SELECT p.oid::text AS id FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace`,
    operator: `SELECT oid::text AS id FROM pg_operator WHERE oprnamespace = 'public'::regnamespace`,
    cast: `SELECT oid::text AS id FROM pg_cast WHERE oid >= 16384`,
    type: `SELECT t.oid::text AS id FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('c','d','e','r','m','b') AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')`,
    extension: `SELECT oid::text AS id FROM pg_extension`,
    eventTrigger: `SELECT oid::text AS id FROM pg_event_trigger`,
    trigger: `SELECT oid::text AS id FROM pg_trigger WHERE NOT tgisinternal`,
    rule: `SELECT oid::text AS id FROM pg_rewrite WHERE ev_class IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace) AND rulename <> '_RETURN'`,
    server: `SELECT oid::text AS id FROM pg_foreign_server`,
    publication: `SELECT oid::text AS id FROM pg_publication`,
  };

  private async rememberFixture(): Promise<void> {
    for (const [catalog, sql] of Object.entries(EnforcementTarget.TRACKED)) {
      this.fixtureOids.set(catalog, new Set((await this.direct<{ id: string }>(sql)).rows.map((r) => r.id)));
    }
  }

  /** Objects made since setup, as `catalog: name` (what an attack left in the target). */
  async newObjects(): Promise<string[]> {
    const found: string[] = [];
    for (const [catalog, sql] of Object.entries(EnforcementTarget.TRACKED)) {
      const known = this.fixtureOids.get(catalog)!;
      for (const { id } of (await this.direct<{ id: string }>(sql)).rows)
        if (!known.has(id)) found.push(`${catalog}:${id}`);
    }
    return found;
  }

  /** What the corpus needs to know about this target. */
  async context(): Promise<CorpusContext> {
    const { rows } = await this.direct<CorpusContext['oids']>(`SELECT
      'pg_catalog.pg_read_file(text)'::regprocedure::oid::int AS "pgReadFile",
      'public.secret_of(int)'::regprocedure::oid::int AS "secretOf",
      'pg_catalog.set_config(text,text,boolean)'::regprocedure::oid::int AS "setConfig",
      'pg_catalog.lo_import(text)'::regprocedure::oid::int AS "loImport",
      'pg_catalog.query_to_xml(text,boolean,boolean,text)'::regprocedure::oid::int AS "queryToXml"`);
    return {
      marker: this.marker,
      secretFile: this.secretFile,
      appRole: this.appRole,
      targetDb: this.dp.targetDb,
      oids: rows[0]!,
    };
  }

  markerExists(): boolean {
    return existsSync(this.marker);
  }

  /**
   * Where masked-column canaries must never be found in the target: any table's rows except
   * the masked cells themselves, view and rule definitions, routine bodies and settings,
   * role/database settings, comments, large objects, server settings. Returns findings.
   */
  /** What counts as a leak to a client of `profile`. */
  clientForms(profile: Profile): CanaryForm[] {
    return profile === 'guard'
      ? [...this.fileForms, ...this.detectorForms]
      : [...this.maskedForms, ...this.fileForms, ...this.detectorForms];
  }

  /** What counts as a leak into the target after a session of `profile`. */
  targetForms(profile: Profile): CanaryForm[] {
    return profile === 'guard' ? this.fileForms : [...this.maskedForms, ...this.fileForms];
  }

  async scanTarget(forms: readonly CanaryForm[]): Promise<string[]> {
    const findings: string[] = [];
    const check = (where: string, text: string | null | undefined) => {
      if (!text) return;
      for (const what of findForms(Buffer.from(text), forms)) findings.push(`${where}: ${what}`);
    };
    const tables = await this.direct<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r','p','m') AND n.nspname NOT IN ('pg_catalog','information_schema','pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'`,
    );
    for (const t of tables.rows) {
      const own = t.schema === 'public' && t.name === 'customers';
      const row = own ? `(to_jsonb(t) - 'secret' - 'token')::text` : 'to_jsonb(t)::text';
      const rows = await this.direct<{ r: string }>(
        `SELECT ${row} AS r FROM "${t.schema.replace(/"/g, '""')}"."${t.name.replace(/"/g, '""')}" t`,
      ).catch((e: Error) => ({ rows: [{ r: `unreadable: ${e.message}` }] }));
      for (const { r } of rows.rows) check(`table ${t.schema}.${t.name}`, r);
    }
    const texts = await this.direct<{ where: string; text: string }>(`
      SELECT 'view ' || c.oid::regclass::text AS where, pg_get_viewdef(c.oid) AS text FROM pg_class c WHERE c.relkind IN ('v','m') AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
      UNION ALL SELECT 'routine ' || p.oid::regprocedure::text, coalesce(p.prosrc, '') || ' ' || coalesce(array_to_string(p.proconfig, ','), '') || ' ' || coalesce(pg_get_function_sqlbody(p.oid), '') FROM pg_proc p WHERE p.oid >= 16384
      UNION ALL SELECT 'rule ' || r.rulename, pg_get_ruledef(r.oid) FROM pg_rewrite r WHERE r.oid >= 16384
      UNION ALL SELECT 'role/database setting', array_to_string(setconfig, ',') FROM pg_db_role_setting
      UNION ALL SELECT 'comment', description FROM pg_description WHERE objoid >= 16384
      UNION ALL SELECT 'large object ' || loid::text, encode(data, 'escape') FROM pg_largeobject
      UNION ALL SELECT 'server setting ' || name, setting FROM pg_settings
      UNION ALL SELECT 'column default ' || adrelid::regclass::text, pg_get_expr(adbin, adrelid) FROM pg_attrdef
      UNION ALL SELECT 'constraint ' || conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE oid >= 16384`);
    for (const t of texts.rows) check(t.where, t.text);
    return findings;
  }

  /** Undo what an attack may have done, so the next one starts from the fixture. */
  async reset(): Promise<void> {
    rmSync(this.marker, { force: true });
    const news = await this.newObjects();
    const drops: string[] = [];
    for (const item of news) {
      const [catalog, id] = item.split(':') as [string, string];
      drops.push(dropStatement(catalog, id));
    }
    for (const sql of drops.filter(Boolean)) await this.direct(sql).catch(() => {});
    await this.direct(`
      ALTER DATABASE "${this.dp.targetDb}" RESET ALL;
      ALTER ROLE ${this.appRole} RESET ALL;
      ALTER ROLE postgres IN DATABASE "${this.dp.targetDb}" RESET ALL;
      ALTER ROLE ${this.appRole} IN DATABASE "${this.dp.targetDb}" RESET ALL;
      SELECT lo_unlink(oid) FROM pg_largeobject_metadata;
      DELETE FROM sink;
      UPDATE orders SET note = 'orig' WHERE note <> 'orig';
      INSERT INTO orders SELECT g, 1 + g % 4, 'orig' FROM generate_series(1, ${ORDER_ROWS}) g ON CONFLICT DO NOTHING;`);
    await this.restoreCustomers();
    if (await this.alteredSystem()) await this.direct(`ALTER SYSTEM RESET ${ALTER_SYSTEM_PROBE}`);
    this.tap.take();
  }

  private async restoreCustomers(): Promise<void> {
    const c = this.canaries;
    await this.direct(`ALTER TABLE customers DISABLE TRIGGER report_row`);
    for (let i = 0; i < c.secrets.length; i++) {
      await this.direct(
        `INSERT INTO customers VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, card = EXCLUDED.card,
           secret = EXCLUDED.secret, token = EXCLUDED.token, note = EXCLUDED.note`,
        [i + 1, `Name${i + 1}`, c.emails[i], c.cards[i], c.secrets[i], c.tokens[i], `note ${i + 1}`],
      );
    }
    await this.direct(`DELETE FROM customers WHERE id > ${c.secrets.length}`);
    await this.direct(`ALTER TABLE customers ENABLE TRIGGER report_row`);
  }

  /** Whether an ALTER SYSTEM attack wrote the probe setting to postgresql.auto.conf. */
  async alteredSystem(): Promise<boolean> {
    const { rows } = await this.direct(
      `SELECT 1 FROM pg_file_settings WHERE name = '${ALTER_SYSTEM_PROBE}' AND sourcefile LIKE '%postgresql.auto.conf'`,
    );
    return rows.length > 0;
  }

  /** Whether the fixture tables still hold exactly their rows (writes that hit everything). */
  async ordersIntact(): Promise<boolean> {
    const { rows } = await this.direct<{ n: number; changed: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE note <> 'orig')::int AS changed FROM orders`,
    );
    return rows[0]!.n === ORDER_ROWS && rows[0]!.changed === 0;
  }

  async close(): Promise<void> {
    await this.tap?.close();
    rmSync(this.secretFile, { force: true });
    rmSync(this.marker, { force: true });
    await this.direct(`DROP OWNED BY ${this.appRole} CASCADE`).catch(() => {});
    await this.admin?.end().catch(() => {});
    this.admin = null;
  }

  /** After the target database is dropped: the role is cluster-wide. */
  async dropRole(): Promise<void> {
    await adminQuery(`DROP ROLE IF EXISTS ${this.appRole}`).catch(() => {});
  }
}

function dropStatement(catalog: string, id: string): string {
  switch (catalog) {
    case 'namespace':
      return `DO $$ BEGIN EXECUTE format('DROP SCHEMA %I CASCADE', (SELECT nspname FROM pg_namespace WHERE oid = ${id})); END $$`;
    case 'relation':
      return `DO $$ DECLARE k char; BEGIN SELECT relkind INTO k FROM pg_class WHERE oid = ${id};
        EXECUTE format('DROP %s IF EXISTS %s CASCADE', CASE k WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, ${id}::regclass); END $$`;
    case 'routine':
      return `DO $$ BEGIN EXECUTE format('DROP ROUTINE IF EXISTS %s CASCADE', ${id}::regprocedure); END $$`;
    case 'operator':
      return `DO $$ BEGIN EXECUTE format('DROP OPERATOR IF EXISTS %s CASCADE', ${id}::regoperator); END $$`;
    case 'cast':
      return `DO $$ DECLARE s regtype; t regtype; BEGIN SELECT castsource, casttarget INTO s, t FROM pg_cast WHERE oid = ${id}; EXECUTE format('DROP CAST IF EXISTS (%s AS %s) CASCADE', s, t); END $$`;
    case 'type':
      return `DO $$ BEGIN EXECUTE format('DROP TYPE IF EXISTS %s CASCADE', ${id}::regtype); END $$`;
    case 'extension':
      return `DO $$ BEGIN EXECUTE format('DROP EXTENSION IF EXISTS %I CASCADE', (SELECT extname FROM pg_extension WHERE oid = ${id})); END $$`;
    case 'eventTrigger':
      return `DO $$ BEGIN EXECUTE format('DROP EVENT TRIGGER IF EXISTS %I', (SELECT evtname FROM pg_event_trigger WHERE oid = ${id})); END $$`;
    case 'trigger':
      return `DO $$ DECLARE n name; r regclass; BEGIN SELECT tgname, tgrelid INTO n, r FROM pg_trigger WHERE oid = ${id}; EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', n, r); END $$`;
    case 'rule':
      return `DO $$ DECLARE n name; r regclass; BEGIN SELECT rulename, ev_class INTO n, r FROM pg_rewrite WHERE oid = ${id}; EXECUTE format('DROP RULE IF EXISTS %I ON %s', n, r); END $$`;
    case 'server':
      return `DO $$ BEGIN EXECUTE format('DROP SERVER IF EXISTS %I CASCADE', (SELECT srvname FROM pg_foreign_server WHERE oid = ${id})); END $$`;
    case 'publication':
      return `DO $$ BEGIN EXECUTE format('DROP PUBLICATION IF EXISTS %I', (SELECT pubname FROM pg_publication WHERE oid = ${id})); END $$`;
    default:
      return '';
  }
}

export interface EnforcementRun {
  dp: DataPath;
  target: EnforcementTarget;
  ctx: CorpusContext;
}

/** One data path and target per file: the gateway and agent as real processes. */
export async function startEnforcement(): Promise<EnforcementRun> {
  const dp = await startDataPath();
  const target = new EnforcementTarget(dp);
  try {
    await target.setup();
  } catch (error) {
    await dp.close();
    await target.dropRole();
    throw error;
  }
  return { dp, target, ctx: await target.context() };
}

export async function stopEnforcement(run: EnforcementRun | undefined): Promise<void> {
  if (!run) return;
  await run.target.close();
  await run.dp.close();
  await run.target.dropRole();
}
