// Ticket booking's worker: the outbox relay to Elasticsearch and the scheduled tasks (expiry
// sweep every 30 s, waiting-room admission every 10 s, payment reconciliation). Same kit,
// `kind: 'worker'`: health, readiness, metrics, tracing and shutdown, without OpenAPI.
import { createService, runIfMain } from '@sdlab/service-kit';
import { elasticsearchAdapter } from './adapters/elasticsearch.ts';
import { postgresAdapter } from './adapters/postgres.ts';
import { redisAdapter } from './adapters/redis.ts';
import { Config } from './config.ts';
import { startMaintenanceJobs } from './domain/maintenance-jobs.ts';
import { OutboxRelay } from './domain/outbox-relay.ts';
import { bookingDomain } from './domain/plugin.ts';
import { reconcilePurchases } from './domain/purchase-reconciler.ts';
import { sweepExpiredHolds } from './domain/sweeper.ts';
import { createWorkerMetrics } from './telemetry.ts';

export async function buildWorker(env: NodeJS.ProcessEnv = process.env) {
  const service = await createService({
    name: 'ticket-booking-worker',
    config: Config,
    defaults: { PORT: 9485 },
    env,
    // Committed development values: a production start with any of them exits 1 naming it.
    secrets: ['JWT_SECRET', 'PAYMENT_WEBHOOK_SECRET', 'WAITING_ROOM_SECRET', 'PAYMENT_PROVIDER_API_KEY'],
    kind: 'worker',
  });
  const { app, config, kit } = service;
  await app.register(postgresAdapter, { config });
  await app.register(redisAdapter, { config });
  await app.register(elasticsearchAdapter, { config });
  await app.register(bookingDomain, { config });
  await app.ready();

  const metrics = createWorkerMetrics(kit.metrics);
  const { booking } = app;
  const relay = new OutboxRelay({
    pool: app.pg,
    databaseUrl: config.DATABASE_URL,
    es: app.es,
    index: config.SEARCH_INDEX,
    cache: booking.cache,
    batch: config.OUTBOX_BATCH,
    pollMs: config.OUTBOX_POLL_MS,
    maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
    retryBaseMs: config.OUTBOX_RETRY_BASE_MS,
    metrics,
    log: app.log,
  });
  await relay.start();
  kit.resources.add('outbox-relay', () => relay.stop());

  const jobs = await startMaintenanceJobs({
    redisUrl: config.REDIS_URL,
    keys: app.keys,
    log: app.log,
    tasks: [
      {
        name: 'sweep-expired-holds',
        everyMs: config.SWEEP_EVERY_MS,
        run: async () => {
          const result = await sweepExpiredHolds(app.pg, booking.locks, config.SWEEP_BATCH);
          metrics.holdsExpired.inc(result.holdsExpired);
          metrics.seatsReleased.inc(result.seatsReleased);
          if (result.seatsReleased) app.log.info(result, 'expired holds released');
          return result;
        },
      },
      {
        name: 'admit-waiting-rooms',
        everyMs: config.WAITING_ROOM_ADMIT_EVERY_MS,
        run: async () => {
          let waiting = 0;
          for (const eventId of await booking.catalogue.waitingRoomEvents()) {
            const tick = await booking.waitingRoom.admit(eventId);
            metrics.waitingRoomAdmitted.inc(tick.admitted);
            waiting += tick.waiting;
          }
          metrics.waitingRoomQueued.set(waiting);
          return { waiting };
        },
      },
      {
        name: 'reconcile-payments',
        everyMs: config.RECONCILE_EVERY_MS,
        run: async () => {
          const counts = await reconcilePurchases({
            pool: app.pg,
            purchases: booking.purchases,
            log: app.log,
            staleAfterMs: config.PAYMENT_RECONCILE_AFTER_MS,
            batch: config.RECONCILE_BATCH,
            maxAttempts: config.RECONCILE_MAX_ATTEMPTS,
            retryBaseMs: config.RECONCILE_RETRY_BASE_MS,
            maxDelayMs: config.RECONCILE_MAX_DELAY_MS,
          });
          for (const [outcome, n] of Object.entries(counts)) metrics.reconciled.inc({ outcome }, n);
          return counts;
        },
      },
    ],
  });
  kit.resources.add('jobs', () => jobs.close());
  return { ...service, relay, jobs };
}

runIfMain(import.meta, buildWorker);
