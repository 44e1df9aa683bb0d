import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDataPath, type DataPath } from '../support/data-path.js';
import { startProcess, type RunningProcess } from '../support/processes.js';

// An agent dials every gateway replica (docs/operations.md). Its status in the control plane is
// the union of what the replicas hold: one replica stopping, or crashing, must not mark it offline
// while another still has its stream; and a crashed replica's claim expires on its own, also when
// no replica is left to sweep it.
let dp: DataPath;
let replica: RunningProcess;

beforeAll(async () => {
  dp = await startDataPath({
    redisPrefix: `warden-test-${randomBytes(4).toString('hex')}`,
    replica: true,
    gatewayEnv: { WARDEN_AGENT_PRESENCE_INTERVAL_MS: '300' },
    // The API judges presence by the same interval the replicas refresh it at.
    apiConfig: { agentPresenceIntervalMs: 300 },
  });
  replica = dp.replica!.process;
}, 120_000);

afterAll(async () => {
  await replica?.stop();
  await dp?.close();
});

async function agentStatus(): Promise<string> {
  return (await dp.api.request('GET', '/api/agents/edge')).body.status;
}

/** The gateway replicas holding the agent, by id. */
async function presence(): Promise<string[]> {
  const rows = await dp.api.db.prisma.agentPresence.findMany({ where: { agent: { name: 'edge' } } });
  return rows.map((row) => row.gatewayId).sort();
}

/** Every status the API reports while `during` runs, and for `settleMs` after, sampled every 50 ms. */
async function statusesWhile(during: Promise<unknown>, settleMs: number): Promise<string[]> {
  const seen = new Set<string>();
  let done = false;
  void during.finally(() => (done = true));
  while (!done) {
    seen.add(await agentStatus());
    await new Promise((r) => setTimeout(r, 50));
  }
  const deadline = Date.now() + settleMs;
  while (Date.now() < deadline) {
    seen.add(await agentStatus());
    await new Promise((r) => setTimeout(r, 50));
  }
  return [...seen];
}

describe('agent presence across gateway replicas', () => {
  it('stays online while one replica shuts down and comes back', async () => {
    await expect.poll(presence, { timeout: 10_000 }).toHaveLength(2);
    expect(await presence()).toContain('replica-b');
    expect(await statusesWhile(replica.stop('SIGTERM'), 1000)).toEqual(['online']);
    expect(await presence()).not.toContain('replica-b');

    replica = startProcess('apps/gateway/src/main.ts', dp.replica!.env);
    await replica.waitFor(/gateway listening/, 60_000);
    // The agent redials the replica on its own, with backoff.
    await expect.poll(presence, { timeout: 20_000 }).toContain('replica-b');
    expect(await agentStatus()).toBe('online');
  });

  it('stays online when a replica crashes, and the crashed replica’s claim expires', async () => {
    // A crash: no shutdown hook runs, and replica-b's presence row stays behind.
    expect(await statusesWhile(replica.stop('SIGKILL'), 500)).toEqual(['online']);
    // The surviving replica sweeps it after three missed refreshes (3 × 300 ms here).
    await expect.poll(async () => (await presence()).includes('replica-b'), { timeout: 5_000 }).toBe(false);
    expect(await presence()).toHaveLength(1);
    expect(await agentStatus()).toBe('online');
    const { stdout } = await dp.psql(['-Atc', 'select 42']);
    expect(stdout.trim()).toBe('42');
  });

  it('reads offline when every replica crashed, with nobody left to mark it so', async () => {
    // replica-b crashed in the test before; now the last replica does.
    await dp.gateway.stop('SIGKILL');
    // Its presence row stays, and the status column still says online: the API goes by freshness.
    await expect.poll(agentStatus, { timeout: 5_000 }).toBe('offline');
    expect(await presence()).toHaveLength(1);
    const stored = await dp.api.db.prisma.agent.findUniqueOrThrow({ where: { name: 'edge' } });
    expect(stored.status).toBe('online');
    const connection = (await dp.api.request('GET', '/api/connections/pg-test')).body;
    expect(connection.agent.status).toBe('offline');

    await dp.startGateway();
    await expect.poll(agentStatus, { timeout: 20_000 }).toBe('online');
    expect((await dp.api.request('GET', '/api/connections/pg-test')).body.agent.status).toBe('online');
  });

  it('goes offline once no replica holds the agent any more', async () => {
    await dp.agent.stop();
    await dp.waitForAgent('offline');
    expect(await presence()).toEqual([]);
  });
});
