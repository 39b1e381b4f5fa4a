import { createService, runIfMain } from '@sdlab/service-kit';
import { postgresAdapter } from './adapters/postgres.ts';
import { redisAdapter } from './adapters/redis.ts';
import { Config, DEFAULT_WORKER_PORT } from './config.ts';
import { aggregatorPlugin } from './domain/aggregator-plugin.ts';

/**
 * The aggregator worker: a consumer group member that windows clicks and flushes counts with
 * their offsets to Postgres, plus the reconciliation job. Health, readiness and metrics on PORT.
 */
export async function buildWorker(env: NodeJS.ProcessEnv = process.env) {
  const service = await createService({
    name: 'ad-click-aggregator-worker',
    config: Config,
    defaults: { PORT: DEFAULT_WORKER_PORT },
    env,
    kind: 'worker',
  });
  const { app, config } = service;

  await app.register(postgresAdapter, { config });
  await app.register(redisAdapter, { config });
  await app.register(aggregatorPlugin, { config });
  return service;
}

runIfMain(import.meta, buildWorker);
