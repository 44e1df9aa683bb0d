// The gateway as its own process; needs a shared control-plane Postgres
// (DATABASE_URL) because PGlite is single-process.
import '@warden/runtime/lean-wasm';
import { openDatabase } from '@warden/db';
import { ConfigError, createLogger, loadConfig, loadSecretBox } from '@warden/runtime';
import { serveMetrics } from '@warden/runtime/metrics';
import { Gateway } from './gateway.js';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'warden-gateway' });
if (!config.databaseUrl)
  throw new ConfigError('the gateway process needs DATABASE_URL; use `pnpm start` for the embedded mode');
const db = await openDatabase(config);
const gateway = new Gateway({
  prisma: db.prisma,
  execute: db.execute,
  secretBox: loadSecretBox(config),
  config,
  logger,
});
const addresses = await gateway.start();
logger.info(
  {
    grpc: addresses.grpc,
    postgres: addresses.postgres.port,
    ssh: addresses.ssh.port,
    sshHostKey: addresses.sshHostKeyFingerprint,
  },
  'gateway listening',
);
// Its own /metrics (the API's covers only the API process when they run apart).
const metrics = config.gatewayMetrics
  ? await serveMetrics(config.gatewayMetrics, { token: config.metricsToken })
  : undefined;
if (metrics) logger.info({ port: metrics.port }, 'gateway metrics at /metrics');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'gateway stopping');
    void gateway
      .stop()
      .then(() => db.close())
      .then(() => process.exit(0));
  });
}
