import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type { MigrationList, SchemaEngine } from '@prisma/schema-engine-wasm';

// Prisma's binary schema engine cannot be downloaded on our build machines, so
// migrations run through the WebAssembly build of the same engine, over the same
// driver adapter the application uses. The folders stay ordinary Prisma migration
// folders: anyone with the Prisma binaries can run `prisma migrate deploy` on them.

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const schemaPath = path.join(repoRoot, 'prisma/schema.prisma');
export const migrationsDir = path.join(repoRoot, 'prisma/migrations');

const noFilters = { externalTables: [], externalEnums: [] };

let engineModule: Promise<typeof import('@prisma/schema-engine-wasm')> | undefined;

/**
 * Instantiates the engine's WebAssembly ourselves instead of relying on
 * `import x from './file.wasm'`, which plain Node 20 only allows behind
 * --experimental-wasm-modules.
 */
function loadEngineModule(): Promise<typeof import('@prisma/schema-engine-wasm')> {
  engineModule ??= (async () => {
    const require = createRequire(import.meta.url);
    const bindingsPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const pkgDir = path.dirname(bindingsPath);
    const bindings = await import(pathToFileURL(bindingsPath).href);
    const bytes = await readFile(path.join(pkgDir, 'schema_engine_bg.wasm'));
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': bindings });
    bindings.__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start: () => void }).__wbindgen_start();
    return bindings as typeof import('@prisma/schema-engine-wasm');
  })();
  return engineModule;
}

async function startEngine(adapterFactory: SqlMigrationAwareDriverAdapterFactory): Promise<SchemaEngine> {
  const { SchemaEngine } = await loadEngineModule();
  const datamodel = await readFile(schemaPath, 'utf8');
  return SchemaEngine.new(
    { datamodels: [[schemaPath, datamodel]] },
    () => {},
    bindMigrationAwareSqlAdapterFactory(wholeScripts(adapterFactory)),
  );
}

/**
 * @prisma/adapter-pg runs a migration script by splitting it on every `;`, which
 * breaks hand-written SQL with function bodies ($$ ... ; ... $$). Postgres runs a
 * multi-statement script itself in one simple-protocol query, so hand it over whole.
 */
function wholeScripts(factory: SqlMigrationAwareDriverAdapterFactory): SqlMigrationAwareDriverAdapterFactory {
  const patch = (adapter: SqlDriverAdapter): SqlDriverAdapter => {
    const client = (adapter as unknown as { client?: { query?: (sql: string) => Promise<unknown> } }).client;
    if (adapter.adapterName === '@prisma/adapter-pg' && typeof client?.query === 'function') {
      adapter.executeScript = async (script: string) => {
        await client.query!(script);
      };
    }
    return adapter;
  };
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => patch(await factory.connect()),
    connectToShadowDb: async () => patch(await factory.connectToShadowDb()),
  };
}

export async function readMigrationList(): Promise<MigrationList> {
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const dirs = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const lockPath = path.join(migrationsDir, 'migration_lock.toml');
  const lockContent = await readFile(lockPath, 'utf8').catch(() => null);
  return {
    baseDir: migrationsDir,
    lockfile: { path: 'migration_lock.toml', content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories: await Promise.all(
      dirs.map(async (dir) => ({
        path: dir,
        migrationFile: {
          path: 'migration.sql',
          content: {
            tag: 'ok' as const,
            value: await readFile(path.join(migrationsDir, dir, 'migration.sql'), 'utf8'),
          },
        },
      })),
    ),
  };
}

/** Applies pending migrations, as `prisma migrate deploy` would. Returns their names. */
export async function applyMigrations(adapterFactory: SqlMigrationAwareDriverAdapterFactory): Promise<string[]> {
  const engine = await startEngine(adapterFactory);
  try {
    const result = await engine.applyMigrations({ migrationsList: await readMigrationList(), filters: noFilters });
    return result.appliedMigrationNames;
  } finally {
    engine.free();
  }
}

/**
 * Objects created by hand-written SQL in migrations (triggers, expression indexes)
 * that the schema language cannot describe: the diff sees them as strays and would
 * drop them, so their DROP statements are removed from generated migrations.
 */
const HAND_WRITTEN_OBJECTS = ['RecordingChunk_search_idx'];

function withoutHandWrittenDrops(sql: string): string {
  return sql
    .split(/\n(?=-- )/)
    .filter((block) => !HAND_WRITTEN_OBJECTS.some((name) => block.includes(`DROP INDEX "${name}"`)))
    .join('\n');
}

/**
 * Writes `prisma/migrations/<timestamp>_<name>/migration.sql` holding the SQL that
 * takes the existing migrations to the current schema. Returns null when there is
 * nothing to do.
 */
export async function createMigration(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  name: string,
): Promise<string | null> {
  const engine = await startEngine(adapterFactory);
  try {
    const list = await readMigrationList();
    const datamodel = await readFile(schemaPath, 'utf8');
    const diff = await engine.diff({
      from: list.migrationDirectories.length ? { tag: 'migrations', ...list } : { tag: 'empty' },
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: datamodel }] },
      script: true,
      exitCode: null,
      filters: noFilters,
    });
    const sql = withoutHandWrittenDrops(diff.stdout ?? '');
    if (!sql.trim() || /^-- This is an empty migration/.test(sql.trim())) return null;
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const dir = path.join(migrationsDir, `${stamp}_${name.replace(/\W+/g, '_')}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'migration.sql'), sql);
    await writeFile(
      path.join(migrationsDir, 'migration_lock.toml'),
      '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
    );
    return dir;
  } finally {
    engine.free();
  }
}
