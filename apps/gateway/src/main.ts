// The gateway as its own process; needs a shared control-plane Postgres
// (DATABASE_URL) because PGlite is single-process.
import '@warden/runtime/lean-wasm';
import { openDatabase } from '@warden/db';
import { ConfigError, createLogger, loadConfig, loadSecretBox, stopOnSignals } from '@warden/runtime';
import { serveMetrics } from '@warden/runtime/metrics';
import { Gateway } from './gateway.js';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'warden-gateway' });
if (!config.databaseUrl)
  throw new ConfigError(
    'the gateway process needs DATABASE_URL; use `npx -y pnpm@10.34.8 start` for the embedded mode',
  );
const db = await openDatabase(config);
const gateway = new Gateway({
  prisma: db.prisma,
  execute: db.execute,
  secretBox: loadSecretBox(config),
  config,
  logger,
});
let metrics: Awaited<ReturnType<typeof serveMetrics>> | undefined;
const starting = gateway.start();
stopOnSignals(logger, 'gateway', async () => {
  // A start still under way finishes first, so that stop() undoes all of it.
  await starting.catch(() => undefined);
  await gateway.stop();
  await metrics?.close();
  await db.close();
});
const addresses = await starting;
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
if (config.gatewayMetrics) {
  metrics = await serveMetrics(config.gatewayMetrics, { token: config.metricsToken });
  logger.info({ port: metrics.port }, 'gateway metrics at /metrics');
}
