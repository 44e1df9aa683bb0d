import { Queue, Worker, type Job } from 'bullmq';
import {
  NO_RETRY,
  type BackgroundJobs,
  type EnqueueOptions,
  type JobHandler,
  type JobsLogger,
  type RetryPolicy,
} from './background-jobs.js';

/** Finished jobs kept in Redis for inspection; older ones are trimmed. */
const KEEP_COMPLETED = 100;
const KEEP_FAILED = 1000;

/**
 * BullMQ delivery: one queue (and one worker, concurrency 1) per job name under the
 * `prefix` namespace. Every replica runs a worker, BullMQ hands each job to one of
 * them, and a repeatable job is one job scheduler shared by all replicas.
 */
export class BullJobs implements BackgroundJobs {
  readonly mode = 'redis';
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Map<string, Worker>();
  private closed = false;

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
    private readonly logger: JobsLogger,
  ) {}

  async repeat(
    name: string,
    everyMs: number,
    handler: JobHandler<Record<string, never>>,
    retry: RetryPolicy = NO_RETRY,
  ): Promise<void> {
    this.process(name, handler);
    // Upserting by a fixed id: every replica (and every restart) keeps the one schedule, updated to everyMs.
    await this.queue(name).upsertJobScheduler(
      name,
      { every: everyMs },
      { name, data: {}, opts: { ...this.jobOptions(retry) } },
    );
  }

  process<T>(name: string, handler: JobHandler<T>, options: { concurrency?: number } = {}): void {
    if (this.closed) throw new Error(`background jobs are closed; no worker for "${name}"`);
    if (this.workers.has(name)) throw new Error(`"${name}" already has a handler`);
    const worker = new Worker(name, (job: Job) => handler(job.data as T, { name, attempt: job.attemptsMade + 1 }), {
      connection: { url: this.redisUrl },
      prefix: this.prefix,
      concurrency: options.concurrency ?? 1,
    });
    worker.on('failed', (job, err) => {
      // attemptsMade already counts this try; BullMQ retries while it is below the job's attempts.
      this.logger.warn({ err, job: name, attempt: job?.attemptsMade, jobId: job?.id }, 'background job failed');
    });
    // Connection trouble is reported and retried by the client; unhandled, it would crash the process.
    worker.on('error', (err) => this.logger.error({ err, job: name }, 'background job worker error'));
    this.workers.set(name, worker);
  }

  async enqueue<T>(name: string, data: T, retry: RetryPolicy = NO_RETRY, options: EnqueueOptions = {}): Promise<void> {
    // A jobId BullMQ already holds (queued, delayed for a retry, or kept after it ran) is not added again.
    await this.queue(name).add(name, data, {
      ...this.jobOptions(retry),
      ...(options.jobId ? { jobId: options.jobId } : {}),
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Workers first: they finish the job in hand, then nothing consumes; then the queues. Each is
    // given CLOSE_WAIT_MS: with Redis unreachable BullMQ's close never settles, and a stop must not
    // wait for Redis (its connections are then dropped).
    await Promise.allSettled([...this.workers.values()].map((w) => bounded(w.close(), () => w.disconnect())));
    await Promise.allSettled([...this.queues.values()].map((q) => bounded(q.close(), () => q.disconnect())));
    this.workers.clear();
    this.queues.clear();
  }

  private queue(name: string): Queue {
    if (this.closed) throw new Error(`background jobs are closed; "${name}" was not queued`);
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: { url: this.redisUrl }, prefix: this.prefix });
      queue.on('error', (err) => this.logger.error({ err, job: name }, 'background job queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  private jobOptions(retry: RetryPolicy) {
    return {
      attempts: retry.attempts,
      backoff: { type: retry.backoff.type, delay: retry.backoff.delay },
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    };
  }
}

const CLOSE_WAIT_MS = 1500;

/** Waits for `closing` at most CLOSE_WAIT_MS, then gives up on it and starts `drop`. */
async function bounded(closing: Promise<void>, drop: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), CLOSE_WAIT_MS)));
  const outcome = await Promise.race([closing.then(() => 'closed' as const), late]);
  clearTimeout(timer);
  // Dropping the connections is not awaited either: it too can wait on a Redis that is gone.
  if (outcome === 'late') void drop().catch(() => {});
}
