/**
 * Retried background work (retention today; review notifications and webhook
 * delivery next) behind one small interface with two deliveries: BullMQ when the
 * deployment has Redis, so replicas share one schedule and a job runs once across
 * them; in-process timers otherwise, the embedded mode's "no Redis, jobs are
 * delivered in-process".
 */

export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  /** Wait before try n+1: `delay`, or `delay * 2^(n-1)` when exponential (BullMQ's formula). */
  backoff: { type: 'fixed' | 'exponential'; delay: number };
}

export interface JobContext {
  name: string;
  /** 1 for the first try. */
  attempt: number;
}

export type JobHandler<T = unknown> = (data: T, context: JobContext) => Promise<unknown>;

/** The parts of a pino or Fastify logger the jobs use; never given connection URLs. */
export interface JobsLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BackgroundJobs {
  readonly mode: 'redis' | 'in-process';
  /**
   * Runs `handler` every `everyMs`, once across all replicas (with Redis), retried
   * with `retry` when it throws. Registering the same name again updates the schedule.
   */
  repeat(name: string, everyMs: number, handler: JobHandler<Record<string, never>>, retry?: RetryPolicy): Promise<void>;
  /**
   * Handles one-off jobs of `name`; jobs enqueued before a handler exists wait for it. With Redis,
   * `concurrency` jobs run at once per replica (default 1); in-process jobs are not limited.
   */
  process<T>(name: string, handler: JobHandler<T>, options?: { concurrency?: number }): void;
  /**
   * Queues one job (data must be JSON), retried with `retry` when its handler throws. A `jobId`
   * makes it idempotent: while a job with that id is queued, running or kept, another is dropped.
   */
  enqueue<T>(name: string, data: T, retry?: RetryPolicy, options?: EnqueueOptions): Promise<void>;
  /** Stops scheduling, lets running jobs finish and closes every connection. */
  close(): Promise<void>;
}

export interface EnqueueOptions {
  /** Letters, digits, `-` and `_` (BullMQ refuses `:` in custom ids). */
  jobId?: string;
}

export const NO_RETRY: RetryPolicy = { attempts: 1, backoff: { type: 'fixed', delay: 0 } };

export function backoffDelay(retry: RetryPolicy, failedAttempt: number): number {
  const { type, delay } = retry.backoff;
  return type === 'fixed' ? delay : delay * 2 ** (failedAttempt - 1);
}

export interface BackgroundJobsOptions {
  /** Redis URL; unset → in-process delivery. */
  redisUrl: string | undefined;
  /** Namespace of the Redis keys (BullMQ's `prefix`); tests use a unique one. */
  prefix?: string;
  logger: JobsLogger;
}

export const DEFAULT_JOBS_PREFIX = 'warden';

export async function createBackgroundJobs(options: BackgroundJobsOptions): Promise<BackgroundJobs> {
  if (!options.redisUrl) return new InProcessJobs(options.logger);
  // Loaded only with Redis, so the embedded mode never loads BullMQ.
  const { BullJobs } = await import('./bullmq-jobs.js');
  return new BullJobs(options.redisUrl, options.prefix ?? DEFAULT_JOBS_PREFIX, options.logger);
}

interface Pending {
  data: unknown;
  retry: RetryPolicy;
}

/** Timers in this process: a single API process (embedded mode) has nobody to share a schedule with. */
export class InProcessJobs implements BackgroundJobs {
  readonly mode = 'in-process';
  private readonly handlers = new Map<string, JobHandler<never>>();
  private readonly waiting = new Map<string, Pending[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly intervals = new Map<string, NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  /** Repeatable jobs with a run in progress: a slow run is not overlapped by the next tick. */
  private readonly busy = new Set<string>();
  private closed = false;

  constructor(private readonly logger: JobsLogger) {}

  async repeat(
    name: string,
    everyMs: number,
    handler: JobHandler<Record<string, never>>,
    retry: RetryPolicy = NO_RETRY,
  ): Promise<void> {
    if (this.closed) return;
    const current = this.intervals.get(name);
    if (current) clearInterval(current);
    const interval = setInterval(() => {
      if (this.busy.has(name)) return;
      this.busy.add(name);
      this.run(name, handler, {}, retry, 1, () => this.busy.delete(name));
    }, everyMs);
    // A schedule alone must not keep the process alive.
    interval.unref();
    this.intervals.set(name, interval);
  }

  process<T>(name: string, handler: JobHandler<T>): void {
    this.handlers.set(name, handler as JobHandler<never>);
    const waiting = this.waiting.get(name) ?? [];
    this.waiting.delete(name);
    for (const job of waiting) this.run(name, handler, job.data as T, job.retry, 1);
  }

  /** Ids of jobs queued or running (in-process, nothing is kept after a job ends). */
  private readonly jobIds = new Set<string>();

  async enqueue<T>(name: string, data: T, retry: RetryPolicy = NO_RETRY, options: EnqueueOptions = {}): Promise<void> {
    if (this.closed) throw new Error(`background jobs are closed; "${name}" was not queued`);
    if (options.jobId) {
      const key = `${name}/${options.jobId}`;
      if (this.jobIds.has(key)) return;
      this.jobIds.add(key);
      const handler = this.handlers.get(name) as JobHandler<T> | undefined;
      const wrapped = handler ?? null;
      if (wrapped) {
        const copy = JSON.parse(JSON.stringify(data ?? null)) as T;
        this.run(name, wrapped, copy, retry, 1, () => this.jobIds.delete(key));
        return;
      }
    }
    // Through JSON like a queue would, so a handler never sees what Redis could not carry.
    const copy = JSON.parse(JSON.stringify(data ?? null)) as T;
    const handler = this.handlers.get(name) as JobHandler<T> | undefined;
    if (handler) this.run(name, handler, copy, retry, 1);
    else this.waiting.set(name, [...(this.waiting.get(name) ?? []), { data: copy, retry }]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const interval of this.intervals.values()) clearInterval(interval);
    this.intervals.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  private run<T>(
    name: string,
    handler: JobHandler<T>,
    data: T,
    retry: RetryPolicy,
    attempt: number,
    done?: () => void,
  ): void {
    if (this.closed) {
      done?.();
      return;
    }
    const task = (async () => {
      try {
        await handler(data, { name, attempt });
        done?.();
      } catch (err) {
        if (attempt < retry.attempts && !this.closed) {
          const delay = backoffDelay(retry, attempt);
          this.logger.warn({ err, job: name, attempt, retryInMs: delay }, 'background job failed; retrying');
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            this.run(name, handler, data, retry, attempt + 1, done);
          }, delay);
          this.timers.add(timer);
        } else {
          this.logger.error({ err, job: name, attempt }, 'background job failed');
          done?.();
        }
      }
    })();
    this.running.add(task);
    void task.finally(() => this.running.delete(task));
  }
}
