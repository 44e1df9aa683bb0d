import { type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { run, type CommandResult } from '../support/data-path.js';
import type { RunningProcess } from '../support/processes.js';

// Pieces of the fault drill (drill.test.ts): clients held open through the gateway, pgbench in the
// background, and a watch on the processes that tells an intended kill from a process that died.

export { LivePsql } from '../support/live-psql.js';

/** A node-postgres client through the gateway; `ended` settles with the error that ends its connection. */
export interface LiveClient {
  client: pg.Client;
  ended: Promise<Error & { code?: string }>;
}

export async function liveClient(url: string): Promise<LiveClient> {
  const client = new pg.Client({ connectionString: url });
  const ended = new Promise<Error & { code?: string }>((resolve) => {
    client.on('error', resolve);
    client.on('end', () => resolve(Object.assign(new Error('connection ended'), { code: 'END' })));
  });
  await client.connect();
  await client.query('SELECT 1');
  return { client, ended };
}

/** The error a new connection through the gateway is refused with, or null when it opens. */
export async function refusal(url: string): Promise<(Error & { code?: string }) | null> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error as Error & { code?: string };
  } finally {
    await client.end().catch(() => {});
  }
}

export interface BenchResult extends CommandResult {
  /** performance.now() when pgbench exited. */
  at: number;
}

/**
 * The real pgbench through the gateway (the target was initialized directly), started now and
 * running in the background: `-n` and whatever `args` add (clients, duration, rate).
 */
export function pgbench(
  gateway: { port: number; token: string },
  args: string[],
  timeoutMs = 120_000,
): Promise<BenchResult> {
  return run('pgbench', ['-n', ...args, '-h', '127.0.0.1', '-p', String(gateway.port), '-U', 'tester', 'pg-test'], {
    env: { PGPASSWORD: gateway.token, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '30' },
    timeoutMs,
  }).then((result) => ({ ...result, at: performance.now() }));
}

/** What a pgbench that ran to its end prints: no failed transaction, a rate. */
export function cleanBench(result: CommandResult): boolean {
  return (
    result.code === 0 &&
    /number of failed transactions: 0 /.test(result.stdout) &&
    /^tps = \d+(\.\d+)? /m.test(result.stdout)
  );
}

/**
 * The processes of the drill. A process may exit only when the drill kills or stops it; any other
 * exit is recorded, with the end of its output, and the drill fails on it.
 */
export class ProcessWatch {
  private readonly intended = new WeakSet<ChildProcess>();
  readonly unexpectedExits: string[] = [];

  watch(name: string, process: RunningProcess): RunningProcess {
    process.child.on('exit', (code, signal) => {
      if (this.intended.has(process.child)) return;
      this.unexpectedExits.push(
        `${name} (pid ${process.child.pid}) exited: code ${code}, signal ${signal}; output:\n${process.output().slice(-4000)}`,
      );
    });
    return process;
  }

  alive(process: RunningProcess): boolean {
    return process.child.exitCode === null && process.child.signalCode === null;
  }

  /** SIGKILL, as a crash or an OOM kill would. */
  async crash(process: RunningProcess): Promise<void> {
    this.intended.add(process.child);
    await process.stop('SIGKILL');
  }

  async stop(process: RunningProcess | undefined): Promise<void> {
    if (!process) return;
    this.intended.add(process.child);
    await process.stop();
  }
}

/** Resolves with what `promise` gave, or rejects after `ms` saying what did not happen. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** What the server said after psql's "FATAL:" (psql puts its own words, with the address, before). */
export function fatalOf(stderr: string): string {
  const at = stderr.indexOf('FATAL:');
  if (at < 0) return '';
  return stderr
    .slice(at + 'FATAL:'.length)
    .split('\n')[0]!
    .trim();
}
