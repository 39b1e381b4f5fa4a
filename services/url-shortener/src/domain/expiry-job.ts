import { keepJobSchedulers } from '@sdlab/service-kit/job-schedules';
import { Queue, Worker } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Keys } from '../keys.ts';
import type { WorkerMetrics } from '../telemetry.ts';
import { type SweepResult, sweepExpired } from './expiry-sweep.ts';

export const EXPIRY_QUEUE = 'shortener-expiry';
const SCHEDULER_ID = 'expire-links';

export interface ExpiryJob {
  queue: Queue;
  worker: Worker<unknown, SweepResult>;
  close(): Promise<void>;
}

/**
 * The sweep as a repeatable BullMQ job. `upsertJobScheduler` is idempotent, so every worker
 * instance can declare it at start-up and there is still one schedule; BullMQ hands each run to
 * exactly one worker, so instances never sweep the same tick twice. It is declared again on every
 * reconnect: a Redis that comes back empty has forgotten it (infra/faults: redis-stopped).
 */
export async function startExpiryJob(deps: {
  redisUrl: string;
  keys: Keys;
  pool: pg.Pool;
  redis: Redis;
  everyMs: number;
  retentionS: number;
  batchSize: number;
  metrics: WorkerMetrics;
  log: FastifyBaseLogger;
}): Promise<ExpiryJob> {
  // BullMQ blocks on its connection (BRPOPLPUSH-style waits), so it gets its own, with the
  // unlimited retries it requires instead of the cache client's fail-fast settings.
  const connection = { url: deps.redisUrl, maxRetriesPerRequest: null };
  const prefix = deps.keys.bullPrefix;
  const queue = new Queue(EXPIRY_QUEUE, { connection, prefix });
  const stopDeclaring = await keepJobSchedulers(
    queue,
    () =>
      queue.upsertJobScheduler(
        SCHEDULER_ID,
        { every: deps.everyMs },
        { name: SCHEDULER_ID, opts: { removeOnComplete: 50, removeOnFail: 50 } },
      ),
    deps.log,
  );
  const worker = new Worker<unknown, SweepResult>(
    EXPIRY_QUEUE,
    async () => {
      const result = await sweepExpired(deps);
      deps.metrics.expiredDeleted.inc(result.linksDeleted);
      deps.metrics.idempotencyKeysDeleted.inc(result.idempotencyKeysDeleted);
      if (result.linksDeleted || result.idempotencyKeysDeleted) deps.log.info(result, 'expiry sweep');
      return result;
    },
    { connection, prefix, concurrency: 1 },
  );
  worker.on('failed', (job, err) => deps.log.error({ err, job: job?.id }, 'expiry sweep failed'));
  worker.on('error', (err) => deps.log.warn({ err }, 'expiry worker error'));
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
