import { Queue, Worker } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import { Redis } from 'ioredis';
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
 * is the "single worker" the sweep and the admission tick need [004:895-914].
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
  // The queue gets a client of its own so this module can see it reconnect (below).
  const queueClient = new Redis(deps.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(MAINTENANCE_QUEUE, { connection: queueClient, prefix });
  const declare = async () => {
    for (const task of deps.tasks) {
      await queue.upsertJobScheduler(
        task.name,
        { every: task.everyMs },
        { name: task.name, opts: { removeOnComplete: 20, removeOnFail: 50 } },
      );
    }
  };
  await declare();
  // The schedules live in Redis. A Redis that comes back empty (no persistence, a failover to a
  // fresh replica) would otherwise never run the sweep again until this worker restarted, and
  // expired holds would keep their seats HELD (infra/faults: redis-stopped). Declaring them again
  // on every reconnect is harmless: upsertJobScheduler is idempotent.
  queueClient.on('ready', () => {
    declare().catch((err: unknown) =>
      deps.log.warn({ err: (err as Error).message }, 'could not declare the schedules again'),
    );
  });
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
      await worker.close();
      await queue.close();
      queueClient.disconnect();
    },
  };
}
