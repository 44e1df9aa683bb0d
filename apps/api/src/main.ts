// The API as its own process; needs a shared control-plane Postgres (DATABASE_URL).
import '@warden/runtime/lean-wasm';
import { applyMigrations, openDatabase } from '@warden/db';
import { ConfigError, createLogger, loadConfig, loadSecretBox, stopOnSignals } from '@warden/runtime';
import { buildApi } from './app.js';
import { ensureBootstrapAdmin } from './bootstrap.js';

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'warden-api' });
if (!config.databaseUrl)
  throw new ConfigError('the API process needs DATABASE_URL; use `npx -y pnpm@10.34.8 start` for the embedded mode');
const db = await openDatabase(config);
const applied = await applyMigrations(db.adapterFactory);
if (applied.length) logger.info({ migrations: applied }, 'applied control-plane migrations');
const bootstrap = await ensureBootstrapAdmin(db.prisma, config.bootstrapAdminKey);
if (bootstrap.generatedKey) process.stdout.write(`First admin API key (shown once): ${bootstrap.generatedKey}\n`);
const app = await buildApi({ prisma: db.prisma, secretBox: loadSecretBox(config), config, logger });
const listening = app.listen({ host: config.api.host, port: config.api.port });
stopOnSignals(logger, 'api', async () => {
  await listening.catch(() => undefined);
  await app.close();
  await db.close();
});
await listening;
