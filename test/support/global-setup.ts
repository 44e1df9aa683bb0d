import type { TestProject } from 'vitest/node';
import { createMigratedDatabase } from './database.js';
import { adminQuery, dropDatabase, uniqueName } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated control-plane database that test databases are cloned from. */
    templateDatabase: string;
  }
}

/**
 * Migrates one template database per test run; each test file clones it
 * (CREATE DATABASE ... TEMPLATE), which is much faster than migrating again.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const template = uniqueName('warden_tpl');
  await createMigratedDatabase(template);
  // The migration engine keeps its own pool open for a while; make the template clonable now.
  await adminQuery(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${template}' AND pid <> pg_backend_pid()`,
  );
  project.provide('templateDatabase', template);
  return async () => {
    await dropDatabase(template);
  };
}
