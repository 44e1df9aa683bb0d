import pg from 'pg';

/** The database named in DATABASE_URL is missing and could not be created; the message says how to fix it. */
export class DatabaseMissingError extends Error {
  override name = 'DatabaseMissingError';
}

export interface EnsureDatabaseOptions {
  applicationName?: string | undefined;
  connectTimeoutMs?: number | undefined;
}

/** SQLSTATEs this module tells apart. */
const INVALID_CATALOG_NAME = '3D000'; // database does not exist
const DUPLICATE_DATABASE = '42P04'; // created meanwhile by someone else
const INSUFFICIENT_PRIVILEGE = '42501'; // the role lacks CREATEDB

/**
 * Makes sure the database of a control-plane URL exists before it is migrated: when Postgres says
 * it does not (3D000), it is created through the server's `postgres` maintenance database (or
 * `template1` where that one was dropped) with the same credentials, as `createdb` would. A role
 * that may not create databases gets a one-line DatabaseMissingError naming the database and the
 * command that fixes it. Other connection failures are thrown with the server and database named.
 */
export async function ensureDatabaseExists(
  url: string,
  options: EnsureDatabaseOptions = {},
): Promise<'exists' | 'created'> {
  const config = (database?: string): pg.ClientConfig => ({
    connectionString: database === undefined ? url : withDatabase(url, database),
    application_name: options.applicationName ?? 'warden-migrate',
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
  });
  const probe = new pg.Client(config());
  // What node-postgres resolved from the URL and the PG* environment: the names the messages use.
  const { database, host, port } = probe;
  const user = probe.user ?? '<role>';
  try {
    await probe.connect();
    return 'exists';
  } catch (error) {
    if (sqlState(error) !== INVALID_CATALOG_NAME) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`cannot connect to the control-plane database "${database}" on ${host}:${port}: ${reason}`, {
        cause: error,
      });
    }
  } finally {
    await probe.end().catch(() => undefined);
  }
  if (!database) throw new DatabaseMissingError('DATABASE_URL names no database');

  const where = `${host}:${port}`;
  const fix =
    `create it as a superuser or a role with CREATEDB, e.g. \`createdb -h ${host} -p ${port} -O ${quoteArg(user)} ${quoteArg(database)}\` ` +
    `(in psql: \`CREATE DATABASE ${quoteIdent(database)} OWNER ${quoteIdent(user)};\`), then try again`;
  let lastError: unknown;
  for (const maintenance of ['postgres', 'template1']) {
    const client = new pg.Client(config(maintenance));
    try {
      await client.connect();
      await client.query(`CREATE DATABASE ${quoteIdent(database)}`);
      return 'created';
    } catch (error) {
      const code = sqlState(error);
      if (code === DUPLICATE_DATABASE) return 'exists';
      if (code === INSUFFICIENT_PRIVILEGE) {
        throw new DatabaseMissingError(
          `database "${database}" does not exist on ${where} and role "${user}" may not create it (permission denied): ${fix}`,
        );
      }
      lastError = error;
      // No such maintenance database: try the next one. Anything else ends the attempt.
      if (code !== INVALID_CATALOG_NAME) break;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  const reason = lastError instanceof Error ? lastError.message : String(lastError);
  throw new DatabaseMissingError(
    `database "${database}" does not exist on ${where} and could not be created (${reason}): ${fix}`,
  );
}

/** The same URL with another database in its path. */
function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A shell word: bare when it is plainly safe, single-quoted otherwise. */
function quoteArg(word: string): string {
  return /^[\w.-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
