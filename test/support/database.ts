import { inject } from 'vitest';
import { adminQuery, databaseUrl, dropDatabase, uniqueName } from './postgres.js';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated control-plane database on the local Postgres, unique to the caller. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = uniqueName('warden_test');
  await adminQuery(`CREATE DATABASE "${name}" TEMPLATE "${inject('templateDatabase')}"`);
  return { name, url: databaseUrl(name), drop: () => dropDatabase(name) };
}
