import { applyMigrations, openDatabase } from '@warden/db';
import { adminQuery, databaseUrl, dropDatabase, uniqueName } from './postgres.js';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh, migrated control-plane database on the local Postgres, unique to the caller:
 * under vitest a copy of the run's migrated template, elsewhere (benchmarks) migrated here.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName('warden_test');
  const template = process.env.VITEST ? (await import('vitest')).inject('templateDatabase') : undefined;
  if (template) {
    await adminQuery(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  } else {
    await createMigratedDatabase(name);
  }
  return { name, url: databaseUrl(name), drop: () => dropDatabase(name) };
}

/** Creates the database on the local Postgres and applies every migration to it. */
export async function createMigratedDatabase(name: string): Promise<void> {
  await adminQuery(`CREATE DATABASE "${name}"`);
  const db = await openDatabase({ databaseUrl: databaseUrl(name), dataDir: '.data' });
  try {
    await applyMigrations(db.adapterFactory);
  } finally {
    await db.close();
  }
}
