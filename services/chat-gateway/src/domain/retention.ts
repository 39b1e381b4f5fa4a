import { keepJobSchedulers } from '@sdlab/service-kit/job-schedules';
import { Queue, Worker } from 'bullmq';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { ChatMetrics } from '../telemetry.ts';

export const RETENTION_QUEUE = 'chat-retention';

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
 * The retention job on BullMQ: a job scheduler adds one `sweep` job per interval (the same
 * scheduler id from every instance, so upserting it is idempotent), and whichever instance's
 * worker takes the job runs it; jobs run one at a time across the fleet. The scheduler is
 * declared again on every reconnect: a Redis that comes back empty has forgotten it.
 */
export class Retention {
  readonly queue: Queue;
  readonly #worker: Worker | undefined;
  readonly #everyMs: number;
  readonly #log: FastifyBaseLogger;
  #stopDeclaring: (() => void) | undefined;

  constructor(options: {
    redisUrl: string;
    prefix: string;
    pool: pg.Pool;
    settings: RetentionSettings;
    everyMs: number;
    runWorker: boolean;
    metrics: ChatMetrics;
    log: FastifyBaseLogger;
  }) {
    // BullMQ's workers block on Redis and must wait out reconnects rather than fail a command.
    const connection = { url: options.redisUrl, maxRetriesPerRequest: null };
    this.#everyMs = options.everyMs;
    this.#log = options.log;
    this.queue = new Queue(RETENTION_QUEUE, { connection, prefix: options.prefix });
    this.queue.on('error', (err) => options.log.warn({ err }, 'retention queue error'));
    if (options.runWorker) {
      this.#worker = new Worker(
        RETENTION_QUEUE,
        async () => {
          const deleted = await deleteExpiredMessages(options.pool, options.settings);
          options.metrics.retentionDeleted.inc(deleted);
          if (deleted)
            options.log.info({ deleted, days: options.settings.days }, 'retention: expired messages deleted');
          return { deleted };
        },
        { connection, prefix: options.prefix, concurrency: 1 },
      );
      this.#worker.on('error', (err) => options.log.warn({ err }, 'retention worker error'));
      this.#worker.on('failed', (job, err) =>
        options.log.warn({ err, jobId: job?.id }, 'retention job failed'),
      );
    }
  }

  async start(): Promise<void> {
    this.#stopDeclaring = await keepJobSchedulers(
      this.queue,
      () =>
        this.queue.upsertJobScheduler(
          'retention-sweep',
          { every: this.#everyMs },
          { name: 'sweep', opts: { removeOnComplete: 100, removeOnFail: 100 } },
        ),
      this.#log,
    );
  }

  async close(): Promise<void> {
    this.#stopDeclaring?.();
    await this.#worker?.close();
    await this.queue.close();
  }
}
