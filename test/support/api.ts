import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { buildApi, ensureBootstrapAdmin, type ApiInstance } from '@warden/api';
import { RedisControlBus, type ControlBus } from '@warden/control-bus';
import { openDatabase, type Database } from '@warden/db';
import { createLogger, loadConfig, SecretBox, type WardenConfig } from '@warden/runtime';
import { createTestDatabase, type TestDatabase } from './database.js';

export const testRedisUrl = process.env.WARDEN_TEST_REDIS ?? 'redis://127.0.0.1:6379';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  text: string;
}

export interface TestApi {
  baseUrl: string;
  adminKey: string;
  db: Database;
  /** The SecretBox the API seals stored credentials with, to check what reached the database. */
  secretBox: SecretBox;
  /** What other processes (gateway) need to share this control plane: its database and secret key. */
  databaseUrl: string;
  /** WARDEN_SECRET_KEY (base64) of `secretBox`. */
  secretKey: string;
  /** A scratch WARDEN_DATA_DIR for this instance, removed on close. */
  dataDir: string;
  /** Every log line the API wrote, for tests that grep for leaked secrets. */
  logs: string[];
  /** Every response body seen through `request`, for the same purpose. */
  responses: string[];
  request<T = any>(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; raw?: string },
  ): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

export interface TestApiOptions {
  /** The control bus the API publishes on (default: its own in-process one). */
  bus?: ControlBus;
  /** Overrides of the configuration (publicUrl, ...). */
  config?: Partial<WardenConfig>;
  /**
   * Use the local Redis under this prefix, as gateway processes started with the same
   * WARDEN_REDIS_PREFIX do: the API then publishes on a Redis bus they listen to.
   */
  redisPrefix?: string;
}

/** Starts the real API over HTTP on a free port, on its own migrated database. */
export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const database: TestDatabase = await createTestDatabase();
  const adminKey = 'wdn_test_' + randomBytes(24).toString('base64url');
  const redisEnv = options.redisPrefix ? { REDIS_URL: testRedisUrl, WARDEN_REDIS_PREFIX: options.redisPrefix } : {};
  const config = {
    // Test webhook receivers listen on loopback, which Warden refuses by default (outbound-http.ts).
    ...loadConfig({
      DATABASE_URL: database.url,
      LOG_LEVEL: 'debug',
      WARDEN_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.0/8',
      ...redisEnv,
    }),
    api: { host: '127.0.0.1', port: 0 },
    ...options.config,
  };
  const ownBus =
    !options.bus && options.redisPrefix
      ? new RedisControlBus({ url: testRedisUrl, prefix: `${options.redisPrefix}:bus:` })
      : undefined;
  await ownBus?.ready();
  const bus = options.bus ?? ownBus;
  const db = await openDatabase({ databaseUrl: database.url, dataDir: '.data' });
  await ensureBootstrapAdmin(db.prisma, adminKey);
  const logs: string[] = [];
  const responses: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const secretKey = randomBytes(32).toString('base64');
  const secretBox = SecretBox.fromString(secretKey);
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-api-'));
  const app: ApiInstance = await buildApi({
    prisma: db.prisma,
    secretBox,
    config,
    logger: createLogger({ level: 'debug', destination }),
    ...(bus ? { bus } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: config.api.port });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('API did not bind a TCP port');
  const baseUrl = `http://127.0.0.1:${address.port}`;

  return {
    baseUrl,
    adminKey,
    db,
    secretBox,
    databaseUrl: database.url,
    secretKey,
    dataDir,
    logs,
    responses,
    async request(method, path, options = {}) {
      const token = options.token === undefined ? adminKey : options.token;
      const headers: Record<string, string> = {};
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (options.raw !== undefined) body = options.raw;
      else if (options.body !== undefined) body = JSON.stringify(options.body);
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(baseUrl + path, { method, headers, body });
      const text = await res.text();
      responses.push(text);
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: parsed as any, text };
    },
    async close() {
      await app.close();
      await ownBus?.close();
      await db.close();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An identity with its own API key, created through the API as the admin. */
export async function createIdentity(
  api: TestApi,
  name: string,
  options: { role?: 'admin' | 'auditor' | 'user'; kind?: 'user' | 'service'; groups?: string[] } = {},
): Promise<{ id: string; name: string; token: string; keyId: string }> {
  const user = await api.request('POST', '/api/users', { body: { name, ...options } });
  if (user.status !== 201) throw new Error(`creating user ${name}: ${user.status} ${user.text}`);
  const key = await api.request('POST', '/api/api-keys', { body: { name: 'test', identity: name } });
  if (key.status !== 201) throw new Error(`creating a key for ${name}: ${key.status} ${key.text}`);
  return { id: user.body.id, name, token: key.body.token, keyId: key.body.apiKey.id };
}

/** An agent registered through the API; returns the agent and its one-time key. */
export async function createAgent(api: TestApi, name: string): Promise<{ id: string; name: string; key: string }> {
  const res = await api.request('POST', '/api/agents', { body: { name } });
  if (res.status !== 201) throw new Error(`creating agent ${name}: ${res.status} ${res.text}`);
  return { id: res.body.agent.id, name, key: res.body.key };
}
