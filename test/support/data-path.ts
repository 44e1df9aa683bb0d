import { spawn } from 'node:child_process';
import type { WardenConfig } from '@warden/runtime';
import { createAgent, startTestApi, testRedisUrl as redisUrl, type TestApi } from './api.js';
import { freePort } from './ports.js';
import { adminQuery, dropDatabase, uniqueName } from './postgres.js';
import { startProcess, type RunningProcess } from './processes.js';

/**
 * The real data path for end-to-end tests: the API (in-process, for setup), and the
 * gateway and agent as separate processes on a control-plane database of their own,
 * with a target database on the local Postgres.
 */
export interface DataPath {
  api: TestApi;
  adminKey: string;
  agentName: string;
  agentKey: string;
  /** Database on the local Postgres that the `pg-test` connection points at. */
  targetDb: string;
  pgPort: number;
  grpcPort: number;
  /** The gateway's SSH listener. */
  sshPort: number;
  gateway: RunningProcess;
  /** A second gateway replica (option `replica: true`): same control plane and Redis, its own ports. */
  replica?: {
    process: RunningProcess;
    pgPort: number;
    /** What it was started with, to start it again (apps/gateway/src/main.ts). */
    env: Record<string, string | undefined>;
    url(token?: string, connection?: string): string;
  };
  agent: RunningProcess;
  /** postgres:// URL for a client of the gateway. */
  url(token?: string, connection?: string, extra?: string): string;
  /** Direct URL of the target database, for comparisons. */
  directUrl: string;
  psql(
    args: string[],
    options?: { token?: string; connection?: string; input?: string; env?: Record<string, string> },
  ): Promise<CommandResult>;
  startGateway(): Promise<void>;
  startAgent(): Promise<void>;
  waitForAgent(status: 'online' | 'offline'): Promise<void>;
  close(): Promise<void>;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(
  command: string,
  args: string[],
  options: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that exits without reading its stdin (id, pgbench) must not fail the run with EPIPE.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

export { testRedisUrl as redisUrl } from './api.js';

export async function startDataPath(
  options: {
    connectionConfig?: Record<string, unknown>;
    allowedGroups?: string[];
    /** Extra environment for the agent process (where `env:NAME` secrets are resolved). */
    agentEnv?: Record<string, string>;
    /** Policies attached to `pg-test`; default none, so protocol tests are not shaped by the default pack. */
    policies?: string[];
    /** Give the gateway the local Redis under this key prefix (control bus, as replicas share it). */
    redisPrefix?: string;
    /** Start a second gateway replica too (needs redisPrefix); the agent dials both. */
    replica?: boolean;
    /** Overrides of the API's configuration (publicUrl and its port, OIDC...). */
    apiConfig?: Partial<WardenConfig>;
    /** Extra environment for the gateway process (e.g. WARDEN_GATEWAY_METRICS_PORT). */
    gatewayEnv?: Record<string, string>;
  } = {},
): Promise<DataPath> {
  const api = await startTestApi({
    ...(options.redisPrefix ? { redisPrefix: options.redisPrefix } : {}),
    ...(options.apiConfig ? { config: options.apiConfig } : {}),
  });
  const targetDb = uniqueName('warden_target');
  await adminQuery(`CREATE DATABASE "${targetDb}"`);
  const agent = await createAgent(api, 'edge');
  const created = await api.request('POST', '/api/connections', {
    body: {
      name: 'pg-test',
      type: 'postgres',
      agent: 'edge',
      config: options.connectionConfig ?? {
        host: '127.0.0.1',
        port: 5432,
        database: targetDb,
        user: 'postgres',
        sslmode: 'disable',
      },
      allowedGroups: options.allowedGroups ?? [],
      policies: options.policies ?? [],
    },
  });
  if (created.status !== 201) throw new Error(`creating the connection: ${created.text}`);
  const pgPort = await freePort();
  const grpcPort = await freePort();
  const sshPort = await freePort();
  const replicaPorts = options.replica ? { pg: await freePort(), grpc: await freePort(), ssh: await freePort() } : null;
  const gatewayEnv = {
    DATABASE_URL: api.databaseUrl,
    WARDEN_SECRET_KEY: api.secretKey,
    WARDEN_POSTGRES_ADDR: `127.0.0.1:${pgPort}`,
    WARDEN_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    // Every listener on a free port, so test runs in parallel never collide on a default one.
    WARDEN_SSH_ADDR: `127.0.0.1:${sshPort}`,
    WARDEN_DATA_DIR: api.dataDir,
    LOG_LEVEL: 'debug',
    ...(options.redisPrefix ? { REDIS_URL: redisUrl, WARDEN_REDIS_PREFIX: options.redisPrefix } : {}),
    ...options.gatewayEnv,
  };
  const agentEnv = {
    ...options.agentEnv,
    WARDEN_AGENT_KEY: agent.key,
    WARDEN_GATEWAY_ADDR: replicaPorts
      ? `127.0.0.1:${grpcPort},127.0.0.1:${replicaPorts.grpc}`
      : `127.0.0.1:${grpcPort}`,
    LOG_LEVEL: 'debug',
  };

  const path: DataPath = {
    api,
    adminKey: api.adminKey,
    agentName: 'edge',
    agentKey: agent.key,
    targetDb,
    pgPort,
    grpcPort,
    sshPort,
    gateway: undefined as unknown as RunningProcess,
    agent: undefined as unknown as RunningProcess,
    directUrl: `postgres://postgres@127.0.0.1:5432/${targetDb}`,
    url(token = api.adminKey, connection = 'pg-test', extra = 'sslmode=disable') {
      return `postgres://tester:${encodeURIComponent(token)}@127.0.0.1:${pgPort}/${connection}?${extra}`;
    },
    psql(args, opts = {}) {
      const url = path.url(opts.token, opts.connection);
      return run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '--no-psqlrc', '-d', url, ...args], {
        input: opts.input,
        env: opts.env,
      });
    },
    async startGateway() {
      path.gateway = startProcess('apps/gateway/src/main.ts', gatewayEnv);
      await path.gateway.waitFor(/gateway listening/, 60_000);
      if (replicaPorts && !path.replica) {
        const env = {
          ...gatewayEnv,
          WARDEN_GATEWAY_ID: 'replica-b',
          WARDEN_POSTGRES_ADDR: `127.0.0.1:${replicaPorts.pg}`,
          WARDEN_GRPC_ADDR: `127.0.0.1:${replicaPorts.grpc}`,
          WARDEN_SSH_ADDR: `127.0.0.1:${replicaPorts.ssh}`,
        };
        const replica = startProcess('apps/gateway/src/main.ts', env);
        await replica.waitFor(/gateway listening/, 60_000);
        path.replica = {
          process: replica,
          pgPort: replicaPorts.pg,
          env,
          url: (token = api.adminKey, connection = 'pg-test') =>
            `postgres://tester:${encodeURIComponent(token)}@127.0.0.1:${replicaPorts.pg}/${connection}?sslmode=disable`,
        };
      }
    },
    async startAgent() {
      path.agent = startProcess('apps/agent/src/main.ts', agentEnv);
      await path.waitForAgent('online');
    },
    async waitForAgent(status) {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const res = await api.request('GET', '/api/agents/edge');
        if (res.body?.status === status) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(
        `agent did not become ${status}; gateway output:\n${path.gateway?.output()}\nagent output:\n${path.agent?.output()}`,
      );
    },
    async close() {
      await path.agent?.stop();
      await path.gateway?.stop();
      await path.replica?.process.stop();
      await api.close();
      await dropDatabase(targetDb);
    },
  };
  await path.startGateway();
  await path.startAgent();
  return path;
}
