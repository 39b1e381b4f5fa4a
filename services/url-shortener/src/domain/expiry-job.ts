import { type ScheduledJobs, startScheduledJobs } from '@sdlab/service-kit/scheduled-jobs';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Keys } from '../keys.ts';
import type { WorkerMetrics } from '../telemetry.ts';
import { type SweepResult, sweepExpired } from './expiry-sweep.ts';

export const EXPIRY_QUEUE = 'shortener-expiry';
const SCHEDULER_ID = 'expire-links';

/**
 * The sweep as a repeatable BullMQ job, through the kit's scheduled jobs: every worker instance
 * declares the one schedule, and BullMQ hands each run to exactly one worker, so instances never
 * sweep the same tick twice; the schedule is declared again after a Redis that came back empty
 * (infra/faults: redis-stopped).
 */
export function startExpiryJob(deps: {
  redisUrl: string;
  keys: Keys;
  pool: pg.Pool;
  redis: Redis;
  everyMs: number;
  retentionS: number;
  batchSize: number;
  metrics: WorkerMetrics;
  log: FastifyBaseLogger;
}): Promise<ScheduledJobs<unknown, SweepResult>> {
  return startScheduledJobs<unknown, SweepResult>({
    queue: EXPIRY_QUEUE,
    redisUrl: deps.redisUrl,
    prefix: deps.keys.bullPrefix,
    schedules: [{ id: SCHEDULER_ID, repeat: { every: deps.everyMs }, keep: { completed: 50, failed: 50 } }],
    process: async () => {
      const result = await sweepExpired(deps);
      deps.metrics.expiredDeleted.inc(result.linksDeleted);
      deps.metrics.idempotencyKeysDeleted.inc(result.idempotencyKeysDeleted);
      if (result.linksDeleted || result.idempotencyKeysDeleted) deps.log.info(result, 'expiry sweep');
      return result;
    },
    log: deps.log,
  });
}
