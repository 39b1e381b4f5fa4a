import { type ScheduledJobs, startScheduledJobs } from '@sdlab/service-kit/scheduled-jobs';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { ChatMetrics } from '../telemetry.ts';

export const RETENTION_QUEUE = 'chat-retention';

export type Retention = ScheduledJobs<unknown, { deleted: number }>;

export interface RetentionSettings {
  days: number;
  batch: number;
  /** A run stops after this many batches; the next run continues (bounds one job's duration). */
  maxBatches?: number;
}

/**
 * Deletes messages older than `days`, oldest first, in batches: a short transaction per batch
 * keeps row locks and WAL bursts small, so sends to the same conversations are not held up.
 * Conversations keep their `last_seq`: numbering continues, and a client that syncs from an
 * expired seq sees the first retained one (the gap is the expired part).
 */
export async function deleteExpiredMessages(pool: pg.Pool, settings: RetentionSettings): Promise<number> {
  let total = 0;
  for (let i = 0; i < (settings.maxBatches ?? 1000); i++) {
    const { rowCount } = await pool.query(
      `DELETE FROM chat.messages WHERE (conversation_id, seq) IN (
         SELECT conversation_id, seq FROM chat.messages
         WHERE created_at < now() - make_interval(days => $1)
         ORDER BY created_at LIMIT $2)`,
      [settings.days, settings.batch],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < settings.batch) break;
  }
  return total;
}

/**
 * The retention job on BullMQ, through the kit's scheduled jobs: one scheduler (the same id from
 * every instance, so declaring it is idempotent) adds a sweep per interval, and whichever
 * instance's worker takes it runs it; sweeps run one at a time across the fleet.
 */
export function startRetention(options: {
  redisUrl: string;
  prefix: string;
  pool: pg.Pool;
  settings: RetentionSettings;
  everyMs: number;
  runWorker: boolean;
  metrics: ChatMetrics;
  log: FastifyBaseLogger;
}): Promise<Retention> {
  return startScheduledJobs<unknown, { deleted: number }>({
    queue: RETENTION_QUEUE,
    redisUrl: options.redisUrl,
    prefix: options.prefix,
    schedules: [
      { id: 'retention-sweep', repeat: { every: options.everyMs }, keep: { completed: 100, failed: 100 } },
    ],
    runWorker: options.runWorker,
    process: async () => {
      const deleted = await deleteExpiredMessages(options.pool, options.settings);
      options.metrics.retentionDeleted.inc(deleted);
      if (deleted)
        options.log.info({ deleted, days: options.settings.days }, 'retention: expired messages deleted');
      return { deleted };
    },
    log: options.log,
  });
}
