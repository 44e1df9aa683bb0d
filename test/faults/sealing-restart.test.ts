import { hostname } from 'node:os';
import pg from 'pg';
import { recoveredEndOf, type RecordedEvent } from '@warden/recording';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataPath } from '../support/data-path.js';
import type { SshClient } from '../ssh/ssh-client.js';
import type { TargetSshd } from '../ssh/target-sshd.js';
import { startSshTestbed } from '../ssh/testbed.js';

// A gateway killed (SIGKILL) under a live psql session and a live SSH session, started again on
// the same host and ports: it keeps its id (the default, host name and Postgres port), ends the
// sessions its previous run left `active` as interrupted before accepting clients, and seals their
// recordings over what had been stored, under a final session.end saying so. /verify accepts them.
let dp: DataPath;
let target: TargetSshd;
let ssh: SshClient;
let key: string;

beforeAll(async () => {
  ({ target, dp, ssh, key } = await startSshTestbed({ box: {} }));
}, 180_000);

afterAll(async () => {
  await dp?.close();
  await target?.stop();
});

async function activeSession(protocol: 'postgres' | 'ssh', since: Date) {
  return dp.api.db.prisma.session.findFirst({ where: { protocol, status: 'active', startedAt: { gte: since } } });
}

/** Waits until the session's stored events include one whose payload mentions `marker`. */
async function storedMention(sessionId: string, marker: string): Promise<void> {
  await expect
    .poll(
      async () =>
        (await dp.api.db.prisma.recordingChunk.findMany({ where: { sessionId }, select: { events: true } })).some(
          (chunk) => chunk.events.includes(marker),
        ),
      { timeout: 20_000, interval: 100 },
    )
    .toBe(true);
}

async function events(sessionId: string): Promise<RecordedEvent[]> {
  const res = await dp.api.request('GET', `/api/sessions/${sessionId}/events?limit=1000`);
  expect(res.status, res.text).toBe(200);
  return res.body.events;
}

/** Retries a query through the gateway until the agent is back on it. */
async function queryWhenBack(sql: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await dp.psql(['-Atc', sql]);
    if (result.code === 0) return result.stdout.trim();
    if (Date.now() > deadline) throw new Error(`the gateway did not serve again: ${result.stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('a gateway killed with live sessions, back under the same id', () => {
  it('ends them interrupted, sealed over what was stored and marked as interrupted', async () => {
    const gatewayId = `${hostname()}-${dp.pgPort}`;
    const since = new Date();

    const client = new pg.Client({ connectionString: dp.url() });
    const clientLost = new Promise<unknown>((resolve) => client.on('error', resolve));
    await client.connect();
    expect((await client.query("SELECT 'psql-before-crash' AS marker")).rows[0].marker).toBe('psql-before-crash');
    const psqlRow = await activeSession('postgres', since);
    expect(psqlRow?.gatewayId).toBe(gatewayId);

    // An SSH command still running when the gateway dies.
    const sshRun = ssh.run('box', ['echo ssh-before-crash; sleep 120'], { key, timeoutMs: 150_000 });
    await expect.poll(() => activeSession('ssh', since), { timeout: 30_000 }).not.toBeNull();
    const sshRow = (await activeSession('ssh', since))!;
    expect(sshRow.gatewayId).toBe(gatewayId);

    await storedMention(psqlRow!.id, 'psql-before-crash');
    await storedMention(sshRow.id, 'ssh-before-crash');

    await dp.gateway.stop('SIGKILL');
    await clientLost;
    expect((await sshRun).code).not.toBe(0);
    // Nobody else is there to end them: both rows stay active while the gateway is away.
    for (const id of [psqlRow!.id, sshRow.id]) {
      const row = await dp.api.db.prisma.session.findUniqueOrThrow({ where: { id } });
      expect(row.status).toBe('active');
      expect(row.finalHash).toBeNull();
    }
    const storedBefore = {
      [psqlRow!.id]: (await events(psqlRow!.id)).length,
      [sshRow.id]: (await events(sshRow.id)).length,
    };

    await dp.startGateway();
    expect(dp.gateway.output()).toMatch(/ended the sessions a previous run of this gateway left open/);

    for (const id of [psqlRow!.id, sshRow.id]) {
      const row = await dp.api.db.prisma.session.findUniqueOrThrow({ where: { id } });
      expect(row.status).toBe('interrupted');
      expect(row.endReason).toBe('the gateway holding it restarted');
      expect(row.endedAt).not.toBeNull();
      expect(row.sealedSeq).toBe(storedBefore[id]! + 1);

      const recorded = await events(id);
      expect(recorded).toHaveLength(storedBefore[id]! + 1);
      expect(recoveredEndOf(recorded.at(-1))).toEqual({ gatewayId, by: gatewayId, storedSeq: storedBefore[id] });

      const verify = await dp.api.request('GET', `/api/sessions/${id}/verify`);
      expect(verify.status).toBe(200);
      expect(verify.body).toMatchObject({ ok: true, chain: 'intact', seal: 'valid', sealedAs: 'interrupted' });
      expect(verify.body.summary).toContain(`gateway ${gatewayId} went away without ending the session`);
    }
    // What the client ran before the crash is in the sealed recording.
    const psqlEvents = await events(psqlRow!.id);
    expect(psqlEvents.some((e) => e.kind === 'query' && JSON.stringify(e.payload).includes('psql-before-crash'))).toBe(
      true,
    );
    const sshEvents = await events(sshRow.id);
    expect(sshEvents.some((e) => e.kind === 'ssh.exec' && JSON.stringify(e.payload).includes('ssh-before-crash'))).toBe(
      true,
    );

    // The id is the same across the restart: new sessions carry it too.
    const after = new Date();
    expect(await queryWhenBack('SELECT 42')).toBe('42');
    const fresh = await dp.api.db.prisma.session.findFirst({
      where: { protocol: 'postgres', startedAt: { gte: after } },
      orderBy: { startedAt: 'desc' },
    });
    expect(fresh?.gatewayId).toBe(gatewayId);
    await client.end().catch(() => {});
  }, 240_000);
});
