// The API as its own process; needs a shared control-plane Postgres (DATABASE_URL).
import '@warden/runtime/lean-wasm';
import { applyMigrations, ensureDatabaseExists, openDatabase } from '@warden/db';
import { ConfigError, createLogger, loadConfig, loadSecretBox, stopOnSignals } from '@warden/runtime';
import { buildApi } from './app.js';
import { ensureBootstrapAdmin } from './bootstrap.js';

// `node apps/api/dist/main.js admin recover [--identity <name>]`: the way back in where the image
// ships only the bundles (kubectl exec, docker run); the same as `npx -y pnpm@10.34.8 admin:recover`.
if (process.argv[2] === 'admin' && process.argv[3] === 'recover') {
  const { runAdminRecover } = await import('./admin-recover.js');
  process.exit(await runAdminRecover(process.argv.slice(4)));
}

const config = loadConfig();
const logger = createLogger({ level: config.logLevel, name: 'warden-api' });
if (!config.databaseUrl)
  throw new ConfigError('the API process needs DATABASE_URL; use `npx -y pnpm@10.34.8 start` for the embedded mode');
await ensureDatabaseExists(config.databaseUrl, {
  applicationName: 'warden-api',
  connectTimeoutMs: config.databaseConnectTimeoutMs,
});
const db = await openDatabase(config);
const applied = await applyMigrations(db.adapterFactory);
if (applied.length) logger.info({ migrations: applied }, 'applied control-plane migrations');
// The key is shown before the admin is committed: a process killed in between leaves no admin.
await ensureBootstrapAdmin(db.prisma, config.bootstrapAdminKey, {
  show: (key) => process.stdout.write(`First admin API key (shown once): ${key}\n`),
});
const app = await buildApi({ prisma: db.prisma, secretBox: loadSecretBox(config), config, logger });
const listening = app.listen({ host: config.api.host, port: config.api.port });
stopOnSignals(logger, 'api', async () => {
  await listening.catch(() => undefined);
  await app.close();
  await db.close();
});
await listening;
