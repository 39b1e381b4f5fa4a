import { keepJobSchedulers } from '@sdlab/service-kit/job-schedules';
import { Queue, Worker } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { Keys } from '../keys.ts';
import type { AggregatorMetrics } from '../telemetry.ts';
import type { AggregateStore } from './aggregate-store.ts';
import { GRANULARITY_MS } from './granularity.ts';
import { type ReconcileOptions, type ReconcileReport, reconcile } from './reconcile.ts';
import type { TopK } from './topk.ts';

export const RECONCILE_QUEUE = 'adclick-reconcile';
const SCHEDULER_ID = 'reconcile-previous-day';

/** A job names its period, or asks for the UTC day before the one it runs in (the schedule). */
export type ReconcileJobData = { from: string; to: string } | { period: 'previous-day' };

export function periodOf(data: ReconcileJobData, now: number): { from: number; to: number } {
  if ('period' in data) {
    const today = now - (now % GRANULARITY_MS.day);
    return { from: today - GRANULARITY_MS.day, to: today };
  }
  return { from: Date.parse(data.from), to: Date.parse(data.to) };
}

/** BullMQ's connection: it blocks while waiting for jobs, so it gets its own with unlimited retries. */
export const bullConnection = (redisUrl: string) => ({ url: redisUrl, maxRetriesPerRequest: null });

export function reconcileQueue(redisUrl: string, keys: Keys): Queue<ReconcileJobData, ReconcileReport> {
  return new Queue<ReconcileJobData, ReconcileReport>(RECONCILE_QUEUE, {
    connection: bullConnection(redisUrl),
    prefix: keys.bullPrefix,
  });
}

/**
 * The reconciliation as a BullMQ job: scheduled daily for the previous day (`upsertJobScheduler`
 * is idempotent, so every worker declares it and there is still one schedule; each run goes to
 * exactly one worker), and enqueued on demand by `POST /reconciliations`. The schedule is declared
 * again on every reconnect: a Redis that comes back empty has forgotten it.
 */
export async function startReconcileJob(deps: {
  redisUrl: string;
  keys: Keys;
  pool: pg.Pool;
  topK: TopK;
  store: AggregateStore;
  cron: string;
  schedule: boolean;
  retentionDays: number;
  options: ReconcileOptions;
  metrics: AggregatorMetrics;
  log: FastifyBaseLogger;
}) {
  const connection = bullConnection(deps.redisUrl);
  const prefix = deps.keys.bullPrefix;
  const queue = reconcileQueue(deps.redisUrl, deps.keys);
  const stopDeclaring = deps.schedule
    ? await keepJobSchedulers(
        queue,
        () =>
          queue.upsertJobScheduler(
            SCHEDULER_ID,
            { pattern: deps.cron, tz: 'UTC' },
            {
              name: SCHEDULER_ID,
              data: { period: 'previous-day' },
              opts: { removeOnComplete: 100, removeOnFail: 100 },
            },
          ),
        deps.log,
      )
    : undefined;
  const worker = new Worker<ReconcileJobData, ReconcileReport>(
    RECONCILE_QUEUE,
    async (job) => {
      const period = periodOf(job.data, job.timestamp);
      const report = await reconcile(
        { pool: deps.pool, topK: deps.topK, metrics: deps.metrics, log: deps.log },
        period,
        deps.options,
      );
      if ('period' in job.data) {
        // The daily run also retires raw partitions past retention (whole days, no DELETE).
        const dropped = await deps.store.dropOldPartitions(deps.retentionDays, Date.now());
        if (dropped.length) deps.log.info({ dropped }, 'dropped raw click partitions past retention');
      }
      return report;
    },
    { connection, prefix, concurrency: 1 },
  );
  worker.on('failed', (job, err) => {
    deps.metrics.reconcileRuns.inc({ result: 'failed' });
    deps.log.error({ err, job: job?.id }, 'reconciliation failed');
  });
  worker.on('error', (err) => deps.log.warn({ err }, 'reconciliation worker error'));
  await worker.waitUntilReady();
  return {
    queue,
    worker,
    async close() {
      stopDeclaring?.();
      await worker.close();
      await queue.close();
    },
  };
}
