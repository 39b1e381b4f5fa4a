import { type ScheduledJobs, startScheduledJobs } from '@sdlab/service-kit/scheduled-jobs';
import type { FastifyBaseLogger } from 'fastify';
import type { Keys } from '../keys.ts';

export const MAINTENANCE_QUEUE = 'booking-maintenance';

export interface ScheduledTask {
  /** Scheduler id and job name. */
  name: string;
  everyMs: number;
  run(): Promise<unknown>;
}

/**
 * The worker's periodic tasks (expiry sweep, waiting-room admission, payment reconciliation) on
 * one BullMQ queue, through the kit's scheduled jobs: each run goes to exactly one worker, which
 * is the "single worker" the sweep and the admission tick need [004:895-914], and the schedules
 * are declared again after a Redis that came back empty, or expired holds would keep their seats
 * HELD until this worker restarted (infra/faults: redis-stopped).
 */
export function startMaintenanceJobs(deps: {
  redisUrl: string;
  keys: Keys;
  tasks: ScheduledTask[];
  log: FastifyBaseLogger;
}): Promise<ScheduledJobs<unknown, unknown>> {
  const byName = new Map(deps.tasks.map((t) => [t.name, t]));
  return startScheduledJobs({
    queue: MAINTENANCE_QUEUE,
    redisUrl: deps.redisUrl,
    prefix: deps.keys.bullPrefix,
    schedules: deps.tasks.map((t) => ({
      id: t.name,
      repeat: { every: t.everyMs },
      keep: { completed: 20, failed: 50 },
    })),
    // One slot per task: a slow payment reconciliation never holds up the expiry sweep.
    concurrency: deps.tasks.length,
    process: async (job) => byName.get(job.name)?.run(),
    log: deps.log,
  });
}
