export {
  defaultApplicationName,
  openDatabase,
  redactUrl,
  type Database,
  type DatabaseLogger,
  type DatabaseMode,
  type DatabaseOptions,
  type RawExecute,
} from './database.js';
export { isControlPlaneUnavailable } from './errors.js';
export { DatabaseMissingError, ensureDatabaseExists, type EnsureDatabaseOptions } from './create-database.js';
export { applyMigrations, createMigration } from './migrations.js';
export { DB_NOW, freshPresence, liveAgentIds } from './agent-presence.js';
export * from './generated/client.js';
export { Prisma } from './generated/client.js';
