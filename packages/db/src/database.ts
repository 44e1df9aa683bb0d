import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaClient } from './generated/client.js';

export type DatabaseMode = 'postgres' | 'pglite';

export interface DatabaseOptions {
  /** A Postgres URL; when absent the embedded PGlite under `dataDir` is used. */
  databaseUrl?: string | undefined;
  /** Where PGlite keeps its files (`<dataDir>/pglite`). */
  dataDir: string;
}

/**
 * One handle on the control-plane database, whichever engine backs it. Everything
 * above this module sees only `prisma`; the adapter factory is kept for migrations.
 */
export interface Database {
  mode: DatabaseMode;
  prisma: PrismaClient;
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** Human-readable location without credentials, for start-up messages. */
  location: string;
  /** Raw SQL for bulk writes on the hot path, see {@link RawExecute}. */
  execute: RawExecute;
  close(): Promise<void>;
}

/**
 * Runs one parameterized statement without going through Prisma: for bulk writes
 * (session recordings) whose single large JSON parameter Prisma's query pipeline
 * would copy and inspect on every flush. Everything else uses `prisma`. A Buffer
 * parameter is UTF-8 text (node-postgres sends it as is, in binary format, which for
 * a text column is the text's bytes).
 *
 * `name` makes it a prepared statement of that name on each pooled connection (the same
 * name must always come with the same SQL). Postgres then plans it once: an unnamed
 * statement is planned on every run with its parameters folded into the plan, which for
 * a recording flush copied every chunk's bytes once more (measured: 8-9 -> ~3 µs of the
 * server's CPU per recorded pgbench transaction).
 */
export type RawExecute = (sql: string, params: unknown[], name?: string) => Promise<void>;

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const adapterFactory = new PrismaPg({ connectionString: options.databaseUrl, max: 10 });
    const prisma = new PrismaClient({ adapter: adapterFactory });
    // A small pool of its own, opened on first use: only bulk writers need it.
    let pool: pg.Pool | null = null;
    return {
      mode: 'postgres',
      prisma,
      adapterFactory,
      location: redactUrl(options.databaseUrl),
      execute: async (sql, params, name) => {
        pool ??= new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
        await pool.query({ text: sql, values: params, ...(name ? { name } : {}) });
      },
      close: async () => {
        await prisma.$disconnect();
        await pool?.end();
      },
    };
  }
  const dir = path.resolve(options.dataDir, 'pglite');
  mkdirSync(dir, { recursive: true });
  // Loaded only in the embedded mode: PGlite is a whole Postgres in WebAssembly.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('pglite-prisma-adapter'),
  ]);
  const pglite = await PGlite.create(dir);
  const adapterFactory = new PrismaPGlite(pglite);
  const prisma = new PrismaClient({ adapter: adapterFactory });
  return {
    mode: 'pglite',
    prisma,
    adapterFactory,
    location: dir,
    execute: async (sql, params) => {
      // PGlite would take a Buffer for bytea: text parameters go as strings.
      await pglite.query(
        sql,
        params.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : p)),
      );
    },
    close: async () => {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable database url>';
  }
}
