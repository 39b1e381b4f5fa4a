import type { FastifyBaseLogger } from 'fastify';

// A BullMQ job scheduler lives in Redis, nowhere else. A Redis that comes back empty (no
// persistence, a failover to a fresh replica) has forgotten it, and a service that declared it
// once at start-up never runs that job again until it restarts (infra/faults: redis-stopped).
// So the declaration is repeated each time the queue's connection is ready again: nothing to
// detect, and harmless when the scheduler survived, since `upsertJobScheduler` is idempotent.

/**
 * What this needs of a BullMQ `Queue`: its backend, which re-emits `ready` each time the queue's
 * Redis connection is (re)established. Structural, so the kit does not depend on bullmq.
 */
export interface ScheduledQueue {
  readonly name: string;
  getBackend(): {
    on(event: 'ready', listener: () => void): unknown;
    removeListener(event: 'ready', listener: () => void): unknown;
  };
}

export type ScheduleLog = Pick<FastifyBaseLogger, 'info' | 'warn'>;

/**
 * Declares the queue's schedulers now (a failure rejects, as any start-up step would) and again
 * whenever its connection is ready after a reconnect; a failed re-declaration is logged as a
 * warning (the next reconnect tries again), never thrown. Resolves to the function that stops
 * listening: call it before closing the queue.
 */
export async function keepJobSchedulers(
  queue: ScheduledQueue,
  declare: () => Promise<unknown>,
  log: ScheduleLog,
): Promise<() => void> {
  await declare();
  // Attached after the first declaration has been answered, so the connection's first `ready`
  // is behind it: what the listener sees are reconnects.
  const backend = queue.getBackend();
  let stopped = false;
  const declareAgain = () => {
    if (stopped) return;
    declare().then(
      () => log.info({ queue: queue.name }, 'job schedulers declared again after a reconnect'),
      (err: unknown) =>
        log.warn(
          { queue: queue.name, err: err instanceof Error ? err.message : String(err) },
          'could not declare the job schedulers again after a reconnect',
        ),
    );
  };
  backend.on('ready', declareAgain);
  return () => {
    stopped = true;
    backend.removeListener('ready', declareAgain);
  };
}
