import { inTransaction } from '@sdlab/service-kit/postgres';
import { jobQueue, type ScheduledJobs, startScheduledJobs } from '@sdlab/service-kit/scheduled-jobs';
import type { Job, Queue } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { AdClickErrors } from '../errors.ts';
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

/** The API side's handle on the queue: `POST /reconciliations` enqueues, the worker runs. */
export function reconcileQueue(redisUrl: string, keys: Keys): Queue<ReconcileJobData, ReconcileReport> {
  return jobQueue<ReconcileJobData, ReconcileReport>(RECONCILE_QUEUE, { redisUrl, prefix: keys.bullPrefix });
}

/**
 * Enqueues an on-demand reconciliation unless `max` already wait or run (each is a full scan of
 * its period's raw clicks): 429 otherwise. Counting and adding are two Redis calls, so two
 * requests, on one API instance or two, could both count `max - 1` and both add; a
 * transaction-scoped advisory lock in the Postgres every instance shares makes them one step.
 */
export async function admitReconciliation(
  pool: pg.Pool,
  queue: Queue<ReconcileJobData, ReconcileReport>,
  max: number,
  period: { from: string; to: string },
): Promise<Job<ReconcileJobData, ReconcileReport>> {
  return inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(hashtext('adclick.reconcile-admission'))`);
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    const queued = Object.values(counts).reduce((n, c) => n + c, 0);
    if (queued >= max)
      throw Object.assign(new AdClickErrors.ReconcileBusy(queued), { retryAfterSeconds: 60 });
    return queue.add('reconcile', period, { removeOnComplete: 100, removeOnFail: 100 });
  });
}

/**
 * The reconciliation as a BullMQ job, through the kit's scheduled jobs: scheduled daily for the
 * previous day (when `schedule` is on; every worker declares it and there is still one schedule,
 * each run going to exactly one worker) and enqueued on demand by `POST /reconciliations`.
 */
export function startReconcileJob(deps: {
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
}): Promise<ScheduledJobs<ReconcileJobData, ReconcileReport>> {
  return startScheduledJobs<ReconcileJobData, ReconcileReport>({
    queue: RECONCILE_QUEUE,
    redisUrl: deps.redisUrl,
    prefix: deps.keys.bullPrefix,
    schedules: deps.schedule
      ? [
          {
            id: SCHEDULER_ID,
            repeat: { pattern: deps.cron, tz: 'UTC' },
            data: { period: 'previous-day' },
            keep: { completed: 100, failed: 100 },
          },
        ]
      : [],
    process: async (job) => {
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
    onFailed: () => deps.metrics.reconcileRuns.inc({ result: 'failed' }),
    log: deps.log,
  });
}
