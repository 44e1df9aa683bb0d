import { Agent } from '@warden/agent';
import { buildApi, ensureBootstrapAdmin, type ApiInstance } from '@warden/api';
import { createControlBus } from '@warden/control-bus';
import { Gateway } from '@warden/gateway';
import { applyMigrations, openDatabase, type Database } from '@warden/db';
import { createLogger, loadSecretBox, type Logger, type WardenConfig } from '@warden/runtime';
import { ensureEmbeddedAgent } from './embedded-agent.js';

export interface RunningStack {
  db: Database;
  api: ApiInstance;
  gateway: Gateway;
  agent: Agent;
  /** A generated first admin key; present only on the start that created it. */
  generatedAdminKey?: string;
  logger: Logger;
  stop(): Promise<void>;
}

/**
 * The whole product in one process on embedded defaults: control-plane database
 * (PGlite unless DATABASE_URL), API, gateway and an agent named `default`. PGlite is
 * single-process, which is why the embedded mode cannot be split into processes.
 */
export async function startStack(config: WardenConfig): Promise<RunningStack> {
  // Lines say which of the separately deployable processes wrote them (`process`); each part's
  // own children add `component` (a second `component` here would repeat the key in the JSON).
  const logger = createLogger({ level: config.logLevel, name: 'warden' });
  const secretBox = loadSecretBox(config);
  const db = await openDatabase(config);
  const stops: (() => Promise<void>)[] = [() => db.close()];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch((err) => logger.error({ err }, 'error during shutdown'));
  };
  try {
    const applied = await applyMigrations(db.adapterFactory);
    if (applied.length) logger.info({ migrations: applied }, 'applied control-plane migrations');
    const bootstrap = await ensureBootstrapAdmin(db.prisma, config.bootstrapAdminKey);
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

    return {
      db,
      api,
      gateway,
      agent,
      logger,
      stop,
      ...(bootstrap.generatedKey ? { generatedAdminKey: bootstrap.generatedKey } : {}),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
