// Data-path benchmark: pgbench -S (8 clients) directly against Postgres, through
// PgBouncer, through one and two do-nothing Node TCP relays (bench/tcp-relay.ts: the floor
// for a path of two Node processes on this host) and through Warden (gateway and agent
// as separate processes), all in
// this one run so the ratios mean something on a shared, noisy machine; Warden with
// session recording off, on (the default) and with policy; then the recording's
// storage cost per 1,000 statements, and a large COPY TO STDOUT and FROM STDIN through Warden while
// sampling each process's RSS.
//
//   node --import tsx bench/pgbench.ts            (BENCH_SECONDS=10 BENCH_COPY_MB=1024)
//   The gateway and agent run as built bundles (scripts/build.ts), as in production;
//   BENCH_SOURCES=1 runs their TypeScript through tsx instead.
//   BENCH_PATHS=warden,warden-rec BENCH_MODES=prepared BENCH_COPY_MB=0 runs a subset;
//   BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gateway
//   (BENCH_AGENT_NODE_ARGS the agent); BENCH_CLIENTS sets pgbench's client count (default 8).
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { issueToken } from '@warden/access';
import { applyMigrations, openDatabase } from '@warden/db';
import { defaultPolicyRules } from '@warden/policy';
import { buildApp } from '../scripts/build.js';
import { freePort } from '../test/support/ports.js';
import { adminQuery, databaseUrl, dropDatabase, uniqueName } from '../test/support/postgres.js';
import { startProcess, type RunningProcess } from '../test/support/processes.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const copyMb = Number(process.env.BENCH_COPY_MB ?? 1024);
const clients = Number(process.env.BENCH_CLIENTS ?? 8);
/** BENCH_PATHS=warden,warden-rec runs only those paths (direct and pgbouncer always run, as references). */
const only = process.env.BENCH_PATHS?.split(',');
const wanted = (label: string) => !only || label === 'direct' || label === 'pgbouncer' || only.includes(label);
const modes = process.env.BENCH_MODES?.split(',') ?? ['simple', 'prepared'];

function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

/** CPU time used so far, in ms, from a /proc stat file: in all, and in the kernel (here mostly socket syscalls). */
function statCpuMs(statPath: string): { total: number; kernel: number } {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1]!.split(' ');
  const [user, kernel] = [Number(fields[11]), Number(fields[12])].map((ticks) => (ticks * 1000) / 100); // 10 ms ticks
  return { total: user! + kernel!, kernel: kernel! };
}

/** CPU time a process has used so far (all its threads). */
function cpuMs(pid: number): { total: number; kernel: number } {
  return statCpuMs(`/proc/${pid}/stat`);
}

/** CPU ms so far of a process's main thread: a Node process's event loop. */
function eventLoopCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/task/${pid}/stat`).total;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function pgbench(
  label: string,
  host: string,
  port: number,
  user: string,
  db: string,
  mode: string,
  password?: string,
) {
  const args = [
    '-h',
    host,
    '-p',
    String(port),
    '-U',
    user,
    '-S',
    '-c',
    String(clients),
    '-j',
    '2',
    '-T',
    String(seconds),
    '-M',
    mode,
    '-n',
    db,
  ];
  const { out } = await run('pgbench', args, {
    PGSSLMODE: process.env.BENCH_SSLMODE ?? 'disable',
    ...(password ? { PGPASSWORD: password } : {}),
  });
  const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? NaN);
  const latency = Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? NaN);
  if (!Number.isFinite(tps)) console.error(`${label} ${mode} failed:\n${out}`);
  return { label, mode, tps, latency };
}

class SkipCopy extends Error {}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * The memory settings the container images run the gateway and agent with
 * (deploy/docker/*.Dockerfile): two malloc arenas instead of one per thread (~12 MB less), and
 * an 8 MiB V8 semi-space (V8 grows it to 16: measured, the gateway's peak in the COPY below after
 * the pgbench runs was 177-197 MB at 8 against 212-225 MB at the default, in alternated runs).
 * BENCH_NODE_OPTIONS / BENCH_MALLOC_ARENA_MAX override them for experiments. (A 1 MiB
 * semi-space was measured and rejected: the recording's batched events then all get promoted
 * and the old generation balloons.)
 */
const processTuning = {
  NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? '--max-semi-space-size=8',
  MALLOC_ARENA_MAX: process.env.BENCH_MALLOC_ARENA_MAX ?? '2',
};

const target = uniqueName('bench_target');
const control = uniqueName('bench_control');
const work = mkdtempSync(path.join(tmpdir(), 'warden-bench-'));
const processes: RunningProcess[] = [];
try {
  await adminQuery(`CREATE DATABASE "${target}"`);
  await adminQuery(`CREATE DATABASE "${control}"`);
  await run('pgbench', ['-h', '127.0.0.1', '-U', 'postgres', '-i', '-s', '10', '-q', target]);

  // PgBouncer, session pooling (prepared statements need it), trust auth.
  const bouncerPort = await freePort();
  writeFileSync(path.join(work, 'users.txt'), '"postgres" ""\n');
  writeFileSync(
    path.join(work, 'pgbouncer.ini'),
    `[databases]\n${target} = host=127.0.0.1 port=5432 dbname=${target}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = ${bouncerPort}\nauth_type = trust\nauth_file = ${work}/users.txt\npool_mode = session\ndefault_pool_size = ${clients}\nmax_client_conn = 100\nunix_socket_dir =\n`,
  );
  // PgBouncer refuses to run as root; run it as the postgres user when we are root.
  chmodSync(work, 0o755);
  const asRoot = process.getuid?.() === 0;
  spawn(
    asRoot ? 'runuser' : 'pgbouncer',
    asRoot
      ? ['-u', 'postgres', '--', 'pgbouncer', path.join(work, 'pgbouncer.ini')]
      : [path.join(work, 'pgbouncer.ini')],
    { stdio: 'ignore' },
  );
  await new Promise((r) => setTimeout(r, 500));

  // Warden: control plane seeded directly, gateway and agent as real processes.
  const db = await openDatabase({ databaseUrl: databaseUrl(control), dataDir: work });
  await applyMigrations(db.adapterFactory);
  if (process.env.BENCH_CONTROL_SQL) await db.prisma.$executeRawUnsafe(process.env.BENCH_CONTROL_SQL);
  const adminToken = issueToken('apiKey');
  const agentKey = issueToken('agentKey');
  const admin = await db.prisma.identity.create({ data: { name: 'bench', role: 'admin' } });
  await db.prisma.apiKey.create({
    data: { identityId: admin.id, name: 'bench', hash: adminToken.hash, prefix: adminToken.prefix },
  });
  const agent = await db.prisma.agent.create({
    data: { name: 'bench-agent', keyHash: agentKey.hash, keyPrefix: agentKey.prefix },
  });
  // Same target with policy on: the default pack's guardrails and detectors, plus a
  // column rule on a table pgbench -S never reads (the cost of having rules at all).
  const rules = defaultPolicyRules();
  const guard = await db.prisma.policy.create({
    data: { name: 'bench-guardrails', kind: 'guardrail', rules: { guardrails: rules.guardrails ?? [] } },
  });
  const mask = await db.prisma.policy.create({
    data: {
      name: 'bench-masking',
      kind: 'masking',
      rules: {
        masking: { ...rules.masking, columns: [{ column: 'public.pgbench_tellers.filler', strategy: 'redact' }] },
      },
    },
  });
  await db.prisma.connection.create({
    data: {
      name: 'bench-policy',
      type: 'postgres',
      agentId: agent.id,
      config: { host: '127.0.0.1', port: 5432, database: target, user: 'postgres', sslmode: 'disable' },
      // The local target role is a superuser: column masking on it needs the explicit opt-in.
      options: { allowPrivilegedTargetWithMasking: true },
      policies: { connect: [{ id: guard.id }, { id: mask.id }] },
    },
  });
  await db.prisma.connection.create({
    data: {
      name: 'bench-norec',
      type: 'postgres',
      agentId: agent.id,
      config: { host: '127.0.0.1', port: 5432, database: target, user: 'postgres', sslmode: 'disable' },
      options: { recording: { enabled: false } },
    },
  });
  await db.prisma.connection.create({
    data: {
      name: 'bench',
      type: 'postgres',
      agentId: agent.id,
      config: { host: '127.0.0.1', port: 5432, database: target, user: 'postgres', sslmode: 'disable' },
    },
  });
  const pgPort = await freePort();
  const grpcPort = await freePort();
  // The gateway and agent as production runs them: esbuild bundles (scripts/build.ts), no tsx.
  // BENCH_SOURCES=1 runs the TypeScript sources through tsx instead.
  const fromSources = process.env.BENCH_SOURCES === '1';
  if (!fromSources) for (const app of ['gateway', 'agent'] as const) await buildApp(app);
  const entry = (app: 'gateway' | 'agent') => (fromSources ? `apps/${app}/src/main.ts` : `apps/${app}/dist/main.js`);
  const gateway = startProcess(
    entry('gateway'),
    {
      DATABASE_URL: databaseUrl(control),
      WARDEN_SECRET_KEY: Buffer.alloc(32, 7).toString('base64'),
      WARDEN_POSTGRES_ADDR: `127.0.0.1:${pgPort}`,
      WARDEN_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
      WARDEN_DATA_DIR: work,
      LOG_LEVEL: 'info',
      WARDEN_GATEWAY_METRICS_PORT: process.env.BENCH_GATEWAY_METRICS_PORT,
      WARDEN_RECORDING_WORKER: process.env.WARDEN_RECORDING_WORKER,
      ...processTuning,
    },
    process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean),
  );
  processes.push(gateway);
  await gateway.waitFor(/gateway listening/);
  const agentProc = startProcess(
    entry('agent'),
    {
      WARDEN_AGENT_KEY: agentKey.token,
      WARDEN_GATEWAY_ADDR: `127.0.0.1:${grpcPort}`,
      LOG_LEVEL: 'info',
      ...processTuning,
    },
    process.env.BENCH_AGENT_NODE_ARGS?.split(' ').filter(Boolean),
  );
  processes.push(agentProc);
  await agentProc.waitFor(/connected to gateway/);
  const startedRss = { gateway: rssMb(gateway.child.pid!), agent: rssMb(agentProc.child.pid!) };

  // References for the relays: one and two do-nothing Node relays in series (bench/tcp-relay.ts).
  const relayPorts = [await freePort(), await freePort()];
  // relay 1 → Postgres; relay 2 → relay 1.
  const relay1 = startProcess('bench/tcp-relay.ts', processTuning, [], [String(relayPorts[0]), '5432']);
  const relay2 = startProcess('bench/tcp-relay.ts', processTuning, [], [String(relayPorts[1]), String(relayPorts[0])]);
  processes.push(relay1, relay2);
  await relay1.waitFor(/relay listening/);
  await relay2.waitFor(/relay listening/);
  const bouncerPid = Number((await run('pgrep', ['-f', `^pgbouncer ${path.join(work, 'pgbouncer.ini')}`])).out.trim());

  type Measured = Awaited<ReturnType<typeof pgbench>> & { cpu: { total: number; kernel: number }[] };
  /** pgbench through one path, with the CPU each of that path's own processes spent per transaction. */
  async function measure(
    label: string,
    port: number,
    user: string,
    db: string,
    mode: string,
    pids: number[],
    password?: string,
  ): Promise<Measured> {
    const before = pids.map(cpuMs);
    const r = await pgbench(label, '127.0.0.1', port, user, db, mode, password);
    const after = pids.map(cpuMs);
    const txns = r.tps * seconds;
    const cpu = pids.map((_, i) => ({
      total: ((after[i]!.total - before[i]!.total) * 1000) / txns,
      kernel: ((after[i]!.kernel - before[i]!.kernel) * 1000) / txns,
    }));
    return { ...r, cpu };
  }

  const relayPids = [gateway.child.pid!, agentProc.child.pid!];
  /** CPU so far of each Postgres backend serving the control plane's database (the gateway's pool: the recording's inserts). */
  const controlBackendsCpu = async (): Promise<Map<number, number>> => {
    const { rows } = await adminQuery(`SELECT pid FROM pg_stat_activity WHERE datname = '${control}'`);
    const cpu = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        cpu.set(Number(pid), cpuMs(Number(pid)).total);
      } catch {
        // exited in between
      }
    }
    return cpu;
  };
  const results: Measured[] = [];
  for (const mode of modes) {
    results.push(await measure('direct', 5432, 'postgres', target, mode, []));
    results.push(await measure('pgbouncer', bouncerPort, 'postgres', target, mode, bouncerPid ? [bouncerPid] : []));
    results.push(await measure('node-relay', relayPorts[0]!, 'postgres', target, mode, [relay1.child.pid!]));
    results.push(
      await measure('node-relay2', relayPorts[1]!, 'postgres', target, mode, [relay2.child.pid!, relay1.child.pid!]),
    );
    for (const [label, connection] of [
      ['warden-rec', 'bench-norec'],
      ['warden', 'bench'],
      ['warden+pol', 'bench-policy'],
    ] as const) {
      if (!wanted(label)) continue;
      // CPU per transaction is steadier than TPS on a shared machine: report both.
      results.push(await measure(label, pgPort, 'bench', connection, mode, relayPids, adminToken.token));
    }
  }
  console.log(`\npgbench -S -c ${clients} -j 2 -T ${seconds} (scale 10)`);
  console.log(
    '(node-relay = one do-nothing Node TCP relay, node-relay2 = two in series: the floor for two Node hops;\n' +
      ' warden-rec = recording off; warden = recording on, the default; warden+pol = recording + policy)',
  );
  console.log(
    'mode      path          TPS        avg latency   vs direct   vs pgbouncer   CPU µs/txn (kernel): pgbouncer | relay 2, relay 1 | gateway, agent',
  );
  for (const r of results) {
    const direct = results.find((x) => x.mode === r.mode && x.label === 'direct')!;
    const bouncer = results.find((x) => x.mode === r.mode && x.label === 'pgbouncer')!;
    const cpu = r.cpu.map((c) => `${c.total.toFixed(0).padStart(5)} (${c.kernel.toFixed(0)})`).join(', ');
    console.log(
      `${r.mode.padEnd(9)} ${r.label.padEnd(12)} ${r.tps.toFixed(0).padStart(8)}   ${r.latency.toFixed(3).padStart(8)} ms   ${(r.tps / direct.tps).toFixed(2).padStart(6)}x     ${(r.tps / bouncer.tps).toFixed(2).padStart(6)}x     ${cpu}`,
    );
  }

  for (const mode of modes) {
    if (!wanted('warden') || !wanted('warden-rec') || !wanted('warden+pol')) break;
    const plain = results.find((x) => x.mode === mode && x.label === 'warden')!;
    const unrecorded = results.find((x) => x.mode === mode && x.label === 'warden-rec')!;
    const withPolicy = results.find((x) => x.mode === mode && x.label === 'warden+pol')!;
    console.log(
      `${mode}: recording on ${(plain.tps / unrecorded.tps).toFixed(2)}x the TPS with it off; with policy (default pack + a column rule on an unqueried table) ${(withPolicy.tps / plain.tps).toFixed(2)}x the TPS without`,
    );
  }

  // Recording on vs off, alternated in pairs so that a noisy neighbour hits both alike;
  // the median of the pairs' ratios is the number to quote (BENCH_PAIRS, default 3). Each pair
  // runs right after a PgBouncer and a two-relay run, so that the ratios to PgBouncer are
  // medians of neighbouring runs too: one pass of each path, minutes apart, can differ by 2x.
  const pairs = Number(process.env.BENCH_PAIRS ?? 3);
  for (const mode of modes) {
    if (pairs <= 0 || !wanted('warden') || !wanted('warden-rec')) break;
    const ratios: number[] = [];
    // Where the recording's cost lands, per transaction: the gateway (encoding, hashing, batching)
    // and the control plane's Postgres (the chunk inserts: the gateway's pooled connections,
    // long-lived backends whose CPU /proc can read).
    // The gateway's share is split into its event loop (what every session waits on) and its
    // other threads (the recording worker, V8's GC helpers).
    const cost = { gateway: [] as number[], eventLoop: [] as number[], postgres: [] as number[] };
    const recordingRun = async (label: string, connection: string) => {
      const before = await controlBackendsCpu();
      const eventLoopBefore = eventLoopCpuMs(gateway.child.pid!);
      const r = await measure(label, pgPort, 'bench', connection, mode, [gateway.child.pid!], adminToken.token);
      const eventLoopAfter = eventLoopCpuMs(gateway.child.pid!);
      const after = await controlBackendsCpu();
      // A backend that started during the run spent all its CPU in it; one that exited is missed.
      let postgres = 0;
      for (const [pid, ms] of after) postgres += ms - (before.get(pid) ?? 0);
      const txns = r.tps * seconds;
      return {
        tps: r.tps,
        gateway: r.cpu[0]!.total,
        eventLoop: ((eventLoopAfter - eventLoopBefore) * 1000) / txns,
        postgres: (postgres * 1000) / txns,
      };
    };
    const toBouncer = { relay2: [] as number[], off: [] as number[], on: [] as number[] };
    for (let i = 0; i < pairs; i++) {
      const bouncer = await measure('pgbouncer', bouncerPort, 'postgres', target, mode, []);
      const relays = await measure('node-relay2', relayPorts[1]!, 'postgres', target, mode, []);
      const off = await recordingRun('warden-rec', 'bench-norec');
      const on = await recordingRun('warden', 'bench');
      ratios.push(on.tps / off.tps);
      toBouncer.relay2.push(relays.tps / bouncer.tps);
      toBouncer.off.push(off.tps / bouncer.tps);
      toBouncer.on.push(on.tps / bouncer.tps);
      cost.gateway.push(on.gateway - off.gateway);
      cost.eventLoop.push(on.eventLoop - off.eventLoop);
      cost.postgres.push(on.postgres - off.postgres);
    }
    const spread = (values: number[]) =>
      `${median(values).toFixed(2)}x (${values.map((r) => r.toFixed(2)).join(', ')})`;
    console.log(
      `${mode}: TPS against PgBouncer in the same rounds, median: two relays ${spread(toBouncer.relay2)}; ` +
        `Warden recording off ${spread(toBouncer.off)}; recording on ${spread(toBouncer.on)}`,
    );
    console.log(
      `${mode}: recording on / off over ${pairs} alternated pairs: median ${median(ratios).toFixed(2)}x (${ratios.map((r) => r.toFixed(2)).join(', ')}); ` +
        `it costs per transaction the gateway ${median(cost.gateway).toFixed(1)} µs (its event loop ${median(cost.eventLoop).toFixed(1)} µs) and the control plane's Postgres ${median(cost.postgres).toFixed(1)} µs of CPU (medians)`,
    );
  }

  // What the recording costs on disk: table, indexes and TOAST, per 1,000 statements.
  const [storage] = await db.prisma.$queryRaw<{ bytes: bigint; statements: bigint; events: bigint }[]>`
    SELECT pg_total_relation_size('"RecordingChunk"') AS bytes,
           count(*) FILTER (WHERE e->>'kind' IN ('query', 'execute')) AS statements,
           count(*) AS events
    FROM "RecordingChunk", json_array_elements(events::json) e`;
  const statements = Number(storage!.statements);
  if (statements > 0)
    console.log(
      `recording storage: ${statements} statements in ${Number(storage!.events)} events, ${(Number(storage!.bytes) / 1024 / 1024).toFixed(1)} MiB → ${(((Number(storage!.bytes) / statements) * 1000) / 1024).toFixed(0)} KiB per 1,000 statements (pgbench -S: statement + one-row result)`,
    );

  // Large COPYs through Warden, recorded, both ways: memory must stay flat.
  if (copyMb <= 0) throw new SkipCopy();
  const rows = Math.ceil((copyMb * 1024 * 1024) / 1001);
  // BENCH_COPY_CONNECTION=bench-norec runs them unrecorded, for reference.
  const copyConnection = process.env.BENCH_COPY_CONNECTION ?? 'bench';
  const url = `postgres://bench:${adminToken.token}@127.0.0.1:${pgPort}/${copyConnection}?sslmode=disable`;
  /** Runs a shell pipeline around psql while sampling both processes' RSS; prints MiB/s and the peaks. */
  const copyThrough = async (label: string, script: string, bytes: () => number): Promise<void> => {
    const baseline = { gateway: rssMb(gateway.child.pid!), agent: rssMb(agentProc.child.pid!) };
    const peaks = { ...baseline };
    const sampler = setInterval(() => {
      peaks.gateway = Math.max(peaks.gateway, rssMb(gateway.child.pid!));
      peaks.agent = Math.max(peaks.agent, rssMb(agentProc.child.pid!));
    }, 100);
    const started = Date.now();
    const result = await run('sh', ['-c', script]);
    clearInterval(sampler);
    if (result.code !== 0) throw new Error(`${label} failed: ${result.out}`);
    const secs = (Date.now() - started) / 1000;
    const mib = bytes() || Number(result.out.trim()) / 1024 / 1024;
    console.log(
      `\n${label} through Warden: ${mib.toFixed(0)} MiB in ${secs.toFixed(1)} s (${(mib / secs).toFixed(0)} MiB/s)`,
    );
    console.log(
      `RSS at start, before the COPY → its peak: gateway ${startedRss.gateway.toFixed(0)}, ${baseline.gateway.toFixed(0)} → ${peaks.gateway.toFixed(0)} MB; agent ${startedRss.agent.toFixed(0)}, ${baseline.agent.toFixed(0)} → ${peaks.agent.toFixed(0)} MB`,
    );
  };
  await copyThrough(
    'COPY TO STDOUT',
    `psql -X -d "${url}" -c "COPY (SELECT repeat('x', 1000) FROM generate_series(1, ${rows})) TO STDOUT" | wc -c`,
    () => 0,
  );
  // The same rows the other way, into an unlogged table (dropped after): psql sends them as CopyData.
  const line = 'x'.repeat(1000);
  await copyThrough(
    'COPY FROM STDIN',
    `psql -X -q -d "${url}" -c "CREATE UNLOGGED TABLE bench_copy_in (v text)" && ` +
      `yes ${line} | head -n ${rows} | psql -X -q -d "${url}" -c "COPY bench_copy_in FROM STDIN" && ` +
      `psql -X -q -d "${url}" -c "DROP TABLE bench_copy_in"`,
    () => (rows * 1001) / 1024 / 1024,
  );

  await db.close();
} catch (error) {
  if (!(error instanceof SkipCopy)) throw error;
} finally {
  // runuser does not pass signals on to pgbouncer: stop it by its config file.
  await run('pkill', ['-f', `pgbouncer ${path.join(work, 'pgbouncer.ini')}`]);
  for (const p of processes.reverse()) await p.stop();
  await dropDatabase(target).catch(() => {});
  await dropDatabase(control).catch(() => {});
}
process.exit(0);
