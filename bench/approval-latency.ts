// Approval latency: how long after the approve call starts does the waiting client
// get its result? A psql-like client (node-postgres) on the gateway process runs a
// DELETE that a review rule holds; an approver approves it through an API process of its
// own (which publishes on Redis, as between replicas); we time approve-call-start → result.
// The API runs apart from this script, as in a deployment: in-process, the API's work after
// the publish (read-back, audit, response) would share an event loop with the client's.
//
//   node --import tsx bench/approval-latency.ts        (BENCH_APPROVALS=200)
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createIdentity, testRedisUrl } from '../test/support/api.js';
import { startDataPath } from '../test/support/data-path.js';
import { freePort } from '../test/support/ports.js';
import { startProcess } from '../test/support/processes.js';

const rounds = Number(process.env.BENCH_APPROVALS ?? 200);
const redisPrefix = `warden-bench-${randomBytes(4).toString('hex')}`;
const dp = await startDataPath({ redisPrefix });
const apiPort = await freePort();
const api = startProcess('apps/api/src/main.ts', {
  DATABASE_URL: dp.api.databaseUrl,
  WARDEN_SECRET_KEY: dp.api.secretKey,
  WARDEN_DATA_DIR: dp.api.dataDir,
  REDIS_URL: testRedisUrl,
  WARDEN_REDIS_PREFIX: redisPrefix,
  WARDEN_API_ADDR: `127.0.0.1:${apiPort}`,
  LOG_LEVEL: 'warn',
});
try {
  for (let up = false; !up; await new Promise((r) => setTimeout(r, 100))) {
    up = await fetch(`http://127.0.0.1:${apiPort}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
  }
  const direct = new pg.Client({ connectionString: dp.directUrl });
  await direct.connect();
  await direct.query('CREATE TABLE items (id int PRIMARY KEY)');
  await direct.query(`INSERT INTO items SELECT generate_series(1, ${rounds})`);
  await direct.end();
  await dp.api.request('POST', '/api/groups', { body: { name: 'dba' } });
  const approver = await createIdentity(dp.api, 'approver', { role: 'user', groups: ['dba'] });
  await dp.api.request('POST', '/api/policies', {
    body: {
      name: 'hold-deletes',
      kind: 'review',
      rules: {
        reviews: [{ type: 'require_review', name: 'deletes', match: { kinds: ['delete'] }, approverGroups: ['dba'] }],
      },
    },
  });
  await dp.api.request('PATCH', '/api/connections/pg-test', { body: { policies: ['hold-deletes'] } });

  const client = new pg.Client({ connectionString: dp.url() });
  const notices: string[] = [];
  client.on('notice', (n) => notices.push(n.message ?? ''));
  await client.connect();
  const samples: number[] = [];
  const apiTimes: number[] = [];
  for (let i = 1; i <= rounds; i++) {
    notices.length = 0;
    const running = client.query(`DELETE FROM items WHERE id = ${i}`);
    // The NOTICE carries the review id: the client knows it is waiting.
    while (!notices.length) await new Promise((r) => setTimeout(r, 1));
    const reviewId = /review ([0-9a-f-]{36})/.exec(notices[0]!)![1]!;
    const started = performance.now();
    const approved = fetch(`http://127.0.0.1:${apiPort}/api/reviews/${reviewId}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${approver.token}`, 'content-type': 'application/json' },
      body: '{}',
    }).then((res) => {
      apiTimes.push(performance.now() - started);
      return res;
    });
    await running;
    samples.push(performance.now() - started);
    if ((await approved).status !== 200) throw new Error('approve failed');
  }
  await client.end();
  samples.sort((a, b) => a - b);
  apiTimes.sort((a, b) => a - b);
  const at = (list: number[], p: number) => list[Math.min(list.length - 1, Math.floor((p / 100) * list.length))]!;
  const pct = (p: number) => at(samples, p);
  console.log(
    `approve call → client result, ${rounds} approvals (API process → Redis → gateway process → agent → Postgres)`,
  );
  console.log(
    `p50 ${pct(50).toFixed(1)} ms   p95 ${pct(95).toFixed(1)} ms   p99 ${pct(99).toFixed(1)} ms   max ${samples.at(-1)!.toFixed(1)} ms   (target p99 < 100 ms)`,
  );
  console.log(
    `of which the approve call itself (HTTP + decision transaction + audit + publish): p50 ${at(apiTimes, 50).toFixed(1)} ms   p99 ${at(apiTimes, 99).toFixed(1)} ms`,
  );
} finally {
  await api.stop();
  await dp.close();
}
process.exit(0);
