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
  /**
   * `application_name` of every control-plane connection, to find them in pg_stat_activity;
   * default `warden-<app>` after the entry point (apps/<app>/…), `warden` otherwise. An
   * `application_name` in the URL wins.
   */
  applicationName?: string | undefined;
  /**
   * How long opening a control-plane connection (or waiting for a free one in a full pool) may
   * take before the query fails (default 10 s); without it an unreachable database would hold
   * every caller until the operating system gave up on the connect (minutes).
   */
  databaseConnectTimeoutMs?: number | undefined;
  /** Where lost connections are logged (pino's argument order); default JSON lines on stderr. */
  logger?: DatabaseLogger | undefined;
}

/** The part of a pino logger the pools log through. */
export interface DatabaseLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

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
    const url = options.databaseUrl;
    const applicationName = options.applicationName ?? defaultApplicationName();
    const logger = options.logger ?? stderrLogger(applicationName);
    const poolConfig = (max: number): pg.PoolConfig => ({
      connectionString: url,
      max,
      application_name: applicationName,
      connectionTimeoutMillis: options.databaseConnectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
    const prismaPool = survivingPool(new pg.Pool(poolConfig(10)), 'prisma', logger);
    const adapterFactory = new PrismaPg(prismaPool, {
      // A connection lost inside a transaction: the transaction's query fails, and is what callers see.
      onConnectionError: (err) =>
        logger.warn({ pool: 'prisma', err: errorFields(err) }, 'control-plane connection lost'),
    });
    const prisma = new PrismaClient({ adapter: adapterFactory });
    // A small pool of its own, opened on first use: only bulk writers need it.
    let pool: pg.Pool | null = null;
    return {
      mode: 'postgres',
      prisma,
      adapterFactory,
      location: redactUrl(url),
      execute: async (sql, params, name) => {
        pool ??= survivingPool(new pg.Pool(poolConfig(2)), 'bulk', logger);
        await pool.query({ text: sql, values: params, ...(name ? { name } : {}) });
      },
      close: async () => {
        await prisma.$disconnect();
        // The adapter leaves a pool it was given open: it is ours to end.
        await prismaPool.end();
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

/**
 * A pool that outlives its connections. Postgres ends an idle connection on a restart, a failover,
 * an idle timeout or pg_terminate_backend; node-postgres then emits `error` on the pool, which
 * without a listener is an uncaught exception that ends the process (and every session it serves).
 * The pool has already dropped that connection and opens a new one when next needed; a query that
 * was running on it fails, and its caller decides (the recording writer retries).
 */
function survivingPool(pool: pg.Pool, name: string, logger: DatabaseLogger): pg.Pool {
  let lost = false;
  pool.on('error', (err) => {
    lost = true;
    logger.warn(
      { pool: name, err: errorFields(err) },
      'control-plane connection lost; the pool opens a new one when needed',
    );
  });
  pool.on('connect', (client) => {
    // A connection's own errors while checked out reach its query; once idle, the pool's listener.
    client.on('error', () => {});
    if (!lost) return;
    lost = false;
    logger.info({ pool: name }, 'control-plane connection open again');
  });
  return pool;
}

/** What a log line needs of a driver error: its message and codes, not its stack. */
function errorFields(err: Error): Record<string, unknown> {
  const { code, severity } = err as { code?: unknown; severity?: unknown };
  return {
    message: err.message,
    ...(code !== undefined ? { code } : {}),
    ...(severity !== undefined ? { severity } : {}),
  };
}

/** `warden-gateway` for apps/gateway/src/main.ts or apps/gateway/dist/main.js; the all-in-one is `warden-stack`. */
export function defaultApplicationName(entry: string | undefined = process.argv[1]): string {
  const app = /[\\/]apps[\\/]([a-z][a-z0-9-]*)[\\/]/.exec(entry ?? '')?.[1];
  if (!app) return 'warden';
  return app === 'warden' ? 'warden-stack' : `warden-${app}`;
}

/** Pino's JSON line shape (level 30 info, 40 warn), for processes that pass no logger. */
function stderrLogger(service: string): DatabaseLogger {
  const write = (level: number, fields: Record<string, unknown>, msg: string) =>
    process.stderr.write(
      JSON.stringify({
        level,
        time: new Date().toISOString(),
        service,
        component: 'control-plane-db',
        ...fields,
        msg,
      }) + '\n',
    );
  return { info: (fields, msg) => write(30, fields, msg), warn: (fields, msg) => write(40, fields, msg) };
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
