import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Agent } from '@warden/agent';
import { buildApi, ensureBootstrapAdmin, type ApiInstance } from '@warden/api';
import { createControlBus } from '@warden/control-bus';
import { Gateway } from '@warden/gateway';
import { applyMigrations, ensureDatabaseExists, openDatabase, type Database } from '@warden/db';
import { createLogger, loadSecretBox, type Logger, type WardenConfig } from '@warden/runtime';
import { ensureEmbeddedAgent } from './embedded-agent.js';

export interface RunningStack {
  db: Database;
  api: ApiInstance;
  gateway: Gateway;
  agent: Agent;
  /**
   * A generated first admin key; present only on the start that created it, and only when no
   * `showAdminKey` was given (with it, the key was shown before it was stored).
   */
  generatedAdminKey?: string;
  /** This start created the first admin (its key shown through `showAdminKey`, or BOOTSTRAP_ADMIN_KEY). */
  createdAdmin: boolean;
  logger: Logger;
  stop(): Promise<void>;
}

/** Points of a start an `onPhase` observer hears about, in this order. */
export type StackPhase =
  /** Migrations applied; nothing about the admin written yet. */
  | 'migrated'
  /** First start: the generated admin key was shown, the transaction storing it not yet committed. */
  | 'admin-key-shown'
  /** An admin exists (just committed, or from before); the embedded agent and listeners come next. */
  | 'admin-ready'
  /** Every listener is up. */
  | 'started';

export interface StackOptions {
  /**
   * Shows a generated first admin key, synchronously; called before the admin is committed, so a
   * start that dies earlier leaves no admin whose key nobody saw (see ensureBootstrapAdmin).
   */
  showAdminKey?: (key: string) => void;
  /** Hears each StackPhase as it is reached (tests stop the process at one). Nothing by default. */
  onPhase?: (phase: StackPhase) => void;
}

/**
 * `<dataDir>/warden.pid` holds the pid of the stack that has the embedded PGlite open: PGlite
 * serves one process, so `pnpm admin:recover` (apps/api/src/admin-recover.ts) refuses to open
 * the same files while that process lives.
 */
export const EMBEDDED_PID_FILE = 'warden.pid';

/**
 * The whole product in one process on embedded defaults: control-plane database
 * (PGlite unless DATABASE_URL), API, gateway and an agent named `default`. PGlite is
 * single-process, which is why the embedded mode cannot be split into processes.
 */
export async function startStack(config: WardenConfig, options: StackOptions = {}): Promise<RunningStack> {
  // Lines say which of the separately deployable processes wrote them (`process`); each part's
  // own children add `component` (a second `component` here would repeat the key in the JSON).
  const logger = createLogger({ level: config.logLevel, name: 'warden' });
  const secretBox = loadSecretBox(config);
  const phase = options.onPhase ?? (() => {});
  // Keys and certificates are written here even when the control plane is a Postgres server.
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  if (config.databaseUrl) {
    const created = await ensureDatabaseExists(config.databaseUrl, {
      applicationName: 'warden-stack',
      connectTimeoutMs: config.databaseConnectTimeoutMs,
    });
    if (created === 'created')
      logger.info({ database: databaseName(config.databaseUrl) }, 'created the control-plane database');
  }
  const db = await openDatabase(config);
  const stops: (() => Promise<void>)[] = [];
  // Run in reverse: the pid file goes only once PGlite is closed.
  if (db.mode === 'pglite') stops.push(holdPidFile(path.join(config.dataDir, EMBEDDED_PID_FILE)));
  stops.push(() => db.close());
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch((err) => logger.error({ err }, 'error during shutdown'));
  };
  try {
    const applied = await applyMigrations(db.adapterFactory);
    if (applied.length) logger.info({ migrations: applied }, 'applied control-plane migrations');
    phase('migrated');
    const show = options.showAdminKey;
    const bootstrap = await ensureBootstrapAdmin(
      db.prisma,
      config.bootstrapAdminKey,
      show
        ? {
            show: (key) => {
              show(key);
              phase('admin-key-shown');
            },
          }
        : {},
    );
    phase('admin-ready');
    const agentKey = await ensureEmbeddedAgent(db.prisma, config.dataDir);

    // One bus for API and gateway: in-process delivery only reaches subscribers of the same bus.
    const bus = await createControlBus({
      redisUrl: config.redisUrl,
      prefix: `${config.redisPrefix}:bus:`,
      logger: logger.child({ component: 'control-bus' }),
    });
    stops.push(() => bus.close());

    const api = await buildApi({
      prisma: db.prisma,
      secretBox,
      config,
      logger: logger.child({ process: 'api' }),
      bus,
    });
    await api.listen({ host: config.api.host, port: config.api.port });
    stops.push(() => api.close());

    const gateway = new Gateway({
      prisma: db.prisma,
      execute: db.execute,
      secretBox,
      config,
      logger: logger.child({ process: 'gateway' }),
      bus,
    });
    const { grpc } = await gateway.start();
    stops.push(() => gateway.stop());

    const agent = new Agent({
      gatewayAddress: `${config.grpc.host}:${grpc}`,
      agentKey,
      logger: logger.child({ process: 'agent' }),
    });
    agent.start();
    stops.push(() => agent.stop());
    phase('started');

    return {
      db,
      api,
      gateway,
      agent,
      logger,
      stop,
      createdAdmin: bootstrap.created,
      ...(bootstrap.generatedKey ? { generatedAdminKey: bootstrap.generatedKey } : {}),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The database a URL names, for log lines (no credentials). */
function databaseName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.slice(1));
  } catch {
    return '';
  }
}

/** Writes this process's pid to `file`; the returned stop removes it while it is still ours. */
function holdPidFile(file: string): () => Promise<void> {
  writeFileSync(file, `${process.pid}\n`, { mode: 0o600 });
  return async () => {
    const holder = (() => {
      try {
        return readFileSync(file, 'utf8').trim();
      } catch {
        return '';
      }
    })();
    if (holder === String(process.pid)) rmSync(file, { force: true });
  };
}
