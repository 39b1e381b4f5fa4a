import { keepJobSchedulers } from '@sdlab/service-kit/job-schedules';
import { Queue, Worker } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type { Keys } from '../keys.ts';

export const MAINTENANCE_QUEUE = 'booking-maintenance';

export interface ScheduledTask {
  /** Scheduler id and job name. */
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

export interface Jobs {
  queue: Queue;
  worker: Worker;
  close(): Promise<void>;
}

/**
 * The worker's periodic tasks (expiry sweep, waiting-room admission, payment reconciliation) as
 * BullMQ job schedulers. `upsertJobScheduler` is idempotent, so every worker instance declares
 * them at start-up and there is still one schedule; each run goes to exactly one worker, which
 * is the "single worker" the sweep and the admission tick need [004:895-914]. They are declared
 * again on every reconnect: a Redis that comes back empty (no persistence, a failover to a fresh
 * replica) has forgotten them, and expired holds would otherwise keep their seats HELD until this
 * worker restarted (infra/faults: redis-stopped).
 */
export async function startJobs(deps: {
  redisUrl: string;
  keys: Keys;
  tasks: ScheduledTask[];
  log: FastifyBaseLogger;
}): Promise<Jobs> {
  // BullMQ blocks on its connection, so it gets its own with the unlimited retries it requires
  // (the lock client fails fast instead).
  const connection = { url: deps.redisUrl, maxRetriesPerRequest: null };
  const prefix = deps.keys.bullPrefix;
  const queue = new Queue(MAINTENANCE_QUEUE, { connection, prefix });
  const stopDeclaring = await keepJobSchedulers(
    queue,
    async () => {
      for (const task of deps.tasks) {
        await queue.upsertJobScheduler(
          task.name,
          { every: task.everyMs },
          { name: task.name, opts: { removeOnComplete: 20, removeOnFail: 50 } },
        );
      }
    },
    deps.log,
  );
  const byName = new Map(deps.tasks.map((t) => [t.name, t]));
  const worker = new Worker(
    MAINTENANCE_QUEUE,
    async (job) => {
      const task = byName.get(job.name);
      if (!task) return undefined;
      return task.run();
    },
    { connection, prefix, concurrency: deps.tasks.length },
  );
  worker.on('failed', (job, err) => deps.log.error({ err, job: job?.name }, 'scheduled task failed'));
  worker.on('error', (err) => deps.log.warn({ err: err.message }, 'maintenance worker error'));
  await worker.waitUntilReady();
  return {
    queue,
    worker,
    async close() {
      stopDeclaring();
      await worker.close();
      await queue.close();
    },
  };
}
