// Project script for migrations: `pnpm db:migrate` applies pending migrations to
// DATABASE_URL (or the embedded PGlite), creating that database first when it is missing
// and the role may; `pnpm db:new-migration <name>` writes a new migration folder from the
// difference between prisma/migrations and the schema.
import { ensureDatabaseExists } from './create-database.js';
import { openDatabase } from './database.js';
import { applyMigrations, createMigration } from './migrations.js';

const [command, name] = process.argv.slice(2);
const databaseUrl = process.env.DATABASE_URL?.trim() || undefined;
if (databaseUrl && command === 'migrate') {
  try {
    if ((await ensureDatabaseExists(databaseUrl)) === 'created') console.log('created the control-plane database');
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
const db = await openDatabase({
  databaseUrl,
  dataDir: process.env.WARDEN_DATA_DIR ?? '.data',
  applicationName: 'warden-migrate',
});
try {
  if (command === 'migrate') {
    const applied = await applyMigrations(db.adapterFactory);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  } else if (command === 'new' && name) {
    const dir = await createMigration(db.adapterFactory, name);
    console.log(dir ? `wrote ${dir}` : 'schema matches the migrations; nothing to write');
  } else {
    console.error('usage: cli.ts migrate | new <name>');
    process.exitCode = 2;
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
} finally {
  await db.close();
}
// The migration engine leaves an idle pool behind; do not wait for it to time out.
process.exit();
