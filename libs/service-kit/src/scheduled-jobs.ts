import { type ConnectionOptions, type Job, Queue, type RepeatOptions, Worker } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import { keepJobSchedulers } from './job-schedules.ts';

// The queue-plus-worker set-up of every service with periodic work (booking's maintenance tasks,
// the shortener's expiry sweep, ad-click's reconciliation, chat's retention), once: its own
// connection, the schedules kept across a Redis that forgot them, the worker's failures logged,
// and a close in the right order. Each service keeps only its queue name, schedules and work.

/**
 * BullMQ's connection: its workers block on Redis and must wait out a reconnect, so unlimited
 * retries per command (BullMQ requires it), never a service's fail-fast cache settings.
 */
export function bullConnection(redisUrl: string): ConnectionOptions {
  return { url: redisUrl, maxRetriesPerRequest: null };
}

/** A BullMQ queue on its own connection, under the service's key prefix. */
export function jobQueue<Data = unknown, Result = unknown>(
  name: string,
  options: { redisUrl: string; prefix: string },
): Queue<Data, Result> {
  return new Queue<Data, Result>(name, {
    connection: bullConnection(options.redisUrl),
    prefix: options.prefix,
  });
}

export interface JobSchedule<Data> {
  /** Scheduler id, and the name its jobs carry. */
  id: string;
  /** `{ every: ms }`, or `{ pattern: cron, tz }`. */
  repeat: Omit<RepeatOptions, 'key'>;
  data?: Data;
  /** Finished jobs kept for inspection (completed, failed); 50 each unless said. */
  keep?: { completed: number; failed: number };
}

export interface ScheduledJobsOptions<Data, Result> {
  queue: string;
  redisUrl: string;
  /** The service's BullMQ key prefix (its `keys.bullPrefix`). */
  prefix: string;
  /**
   * Declared at start-up and again after every reconnect. `upsertJobScheduler` is idempotent, so
   * every instance declares them and there is still one schedule; each run goes to one worker.
   */
  schedules?: readonly JobSchedule<Data>[];
  /** Runs one job: scheduled or enqueued on demand. */
  process: (job: Job<Data, Result>) => Promise<Result>;
  /** false: an instance that enqueues and schedules but leaves the work to others. */
  runWorker?: boolean;
  concurrency?: number;
  /** Called when a job fails, beside the kit's error log line (a counter, say). */
  onFailed?: (job: Job<Data, Result> | undefined, err: Error) => void;
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>;
}

export interface ScheduledJobs<Data, Result> {
  queue: Queue<Data, Result>;
  worker: Worker<Data, Result> | undefined;
  /** Stops re-declaring, then closes the worker (letting a running job finish), then the queue. */
  close(): Promise<void>;
}

export async function startScheduledJobs<Data = unknown, Result = unknown>(
  options: ScheduledJobsOptions<Data, Result>,
): Promise<ScheduledJobs<Data, Result>> {
  const { log, prefix } = options;
  const queue = jobQueue<Data, Result>(options.queue, options);
  queue.on('error', (err) => log.warn({ err, queue: options.queue }, 'job queue error'));
  const schedules = options.schedules ?? [];
  const stopDeclaring = schedules.length
    ? await keepJobSchedulers(
        queue,
        async () => {
          // Job names are free strings here; BullMQ's name typing only narrows for typed data.
          const untyped = queue as unknown as Queue;
          for (const s of schedules) {
            const keep = s.keep ?? { completed: 50, failed: 50 };
            await untyped.upsertJobScheduler(s.id, s.repeat, {
              name: s.id,
              ...(s.data !== undefined ? { data: s.data } : {}),
              opts: { removeOnComplete: keep.completed, removeOnFail: keep.failed },
            });
          }
        },
        log,
      )
    : undefined;
  let worker: Worker<Data, Result> | undefined;
  if (options.runWorker !== false) {
    worker = new Worker<Data, Result>(options.queue, options.process, {
      connection: bullConnection(options.redisUrl),
      prefix,
      concurrency: options.concurrency ?? 1,
    });
    worker.on('failed', (job, err) => {
      options.onFailed?.(job, err);
      log.error({ err, queue: options.queue, job: job?.name, jobId: job?.id }, 'job failed');
    });
    worker.on('error', (err) => log.warn({ err, queue: options.queue }, 'job worker error'));
    await worker.waitUntilReady();
  }
  return {
    queue,
    worker,
    async close() {
      stopDeclaring?.();
      await worker?.close();
      await queue.close();
    },
  };
}
