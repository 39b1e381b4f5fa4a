// The URL shortener's API process: create links, redirect, serve stats.
// Its worker (stats consumer + expiry sweep) starts from src/worker.ts.
import { rateLimitPlugin } from '@sdlab/rate-limit';
import { createService, runIfMain } from '@sdlab/service-kit';
import { kafkaProducerAdapter } from './adapters/kafka-producer.ts';
import { postgresAdapter } from './adapters/postgres.ts';
import { redisAdapter } from './adapters/redis.ts';
import { Config } from './config.ts';
import { shortenerDomain } from './domain/plugin.ts';
import { createLinkLimiter } from './domain/rate-limit.ts';
import { linkRoutes } from './routes/links/index.ts';
import { redirectRoutes } from './routes/redirect/index.ts';

export async function buildApp(env: NodeJS.ProcessEnv = process.env) {
  const service = await createService({
    name: 'url-shortener',
    description: 'Short links with multi-layer caching, scrambled counter IDs and async click counting',
    config: Config,
    defaults: { PORT: 8081 },
    env,
  });
  const { app, config } = service;

  await app.register(postgresAdapter, { config });
  await app.register(redisAdapter, { config });
  await app.register(kafkaProducerAdapter, { config });
  await app.register(shortenerDomain, { config });
  await app.register(rateLimitPlugin, { limiter: createLinkLimiter(app, config) });

  await app.register(linkRoutes, { prefix: '/api/links' });
  await app.register(redirectRoutes);
  return service;
}

runIfMain(import.meta, buildApp);
