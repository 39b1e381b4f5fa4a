// Ticket booking: the wiring list. Config, adapters (Postgres, Redis, Elasticsearch), the domain,
// routes, start. The outbox relay, expiry sweep, admission tick and reconciler run in worker.ts.
import { rateLimitPlugin } from '@sdlab/rate-limit';
import { createService, runIfMain } from '@sdlab/service-kit';
import { elasticsearchAdapter } from './adapters/elasticsearch.ts';
import { postgresAdapter } from './adapters/postgres.ts';
import { redisAdapter } from './adapters/redis.ts';
import { Config } from './config.ts';
import { bookingDomain } from './domain/plugin.ts';
import { createUserLimiter } from './domain/rate-limit.ts';
import { adminRoutes } from './routes/admin/index.ts';
import { eventRoutes } from './routes/events/index.ts';
import { holdRoutes } from './routes/holds/index.ts';
import { purchaseRoutes } from './routes/purchases/index.ts';
import { waitingRoomRoutes } from './routes/waiting-room/index.ts';
import { webhookRoutes } from './routes/webhooks/index.ts';

export async function buildApp(env: NodeJS.ProcessEnv = process.env) {
  const service = await createService({
    name: 'ticket-booking',
    description:
      'Ticketmaster patterns: seat holds under contention, purchase saga, event search, waiting room.',
    config: Config,
    defaults: { PORT: 8085 },
    env,
    // Committed development values: a production start with any of them exits 1 naming it.
    secrets: ['JWT_SECRET', 'PAYMENT_WEBHOOK_SECRET', 'WAITING_ROOM_SECRET', 'PAYMENT_PROVIDER_API_KEY'],
  });
  const { app, config } = service;

  await app.register(postgresAdapter, { config });
  await app.register(redisAdapter, { config });
  await app.register(elasticsearchAdapter, { config, readiness: false });
  await app.register(bookingDomain, { config });
  await app.register(rateLimitPlugin, { limiter: createUserLimiter(app, config), hook: 'preHandler' });

  await app.register(adminRoutes);
  await app.register(eventRoutes);
  await app.register(holdRoutes);
  await app.register(purchaseRoutes);
  await app.register(webhookRoutes);
  await app.register(waitingRoomRoutes);
  await app.ready();
  return service;
}

runIfMain(import.meta, buildApp);
