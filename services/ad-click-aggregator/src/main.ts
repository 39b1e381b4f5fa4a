import { createService, runIfMain } from '@sdlab/service-kit';
import { JwtVerifier } from '@sdlab/service-kit/auth';
import type { SocketFactory } from './adapters/kafka.ts';
import { postgresAdapter } from './adapters/postgres.ts';
import { redisAdapter } from './adapters/redis.ts';
import { spoolAdapter } from './adapters/spool-shipper.ts';
import { Config, checkConfig, DEFAULT_PORT } from './config.ts';
import { apiPlugin } from './domain/api-plugin.ts';
import adRoutes from './routes/ads/index.ts';
import clickRoutes from './routes/clicks/index.ts';
import reconciliationRoutes from './routes/reconciliations/index.ts';
import topRoutes from './routes/top/index.ts';

export interface AppDeps {
  /** The ingest's clock (event time of clicks); tests drive it to make late events. */
  now?: () => number;
  /** How kafkajs opens sockets; a test passes one that can cut the link to the broker. */
  kafkaSocketFactory?: SocketFactory;
}

/** Ingest (`/c/...`) and query API. The aggregator runs from src/worker.ts. */
export async function buildApp(env: NodeJS.ProcessEnv = process.env, deps: AppDeps = {}) {
  const service = await createService({
    name: 'ad-click-aggregator',
    description: 'Signed click ingest with a durable spool, per-ad roll-ups, top-K and reconciliation.',
    config: Config,
    defaults: { PORT: DEFAULT_PORT },
    env,
    secrets: ['IMPRESSION_KEY', 'JWT_SECRET'],
  });
  const { app, config } = service;
  checkConfig(config, service.kit.mode);
  // Advertisers and operators sign in with bearer JWTs; only the click redirect is anonymous.
  const verifier = new JwtVerifier({
    secret: config.JWT_SECRET,
    issuer: config.JWT_ISSUER,
    audience: config.JWT_AUDIENCE,
  });
  const now = deps.now ?? Date.now;

  await app.register(postgresAdapter, { config });
  await app.register(redisAdapter, { config });
  await app.register(spoolAdapter, { config, socketFactory: deps.kafkaSocketFactory });

  await app.register(apiPlugin, { config, now });

  await app.register(clickRoutes);
  await app.register(adRoutes, { config, now, verifier });
  await app.register(topRoutes, { verifier });
  await app.register(reconciliationRoutes, { config, verifier });
  return service;
}

runIfMain(import.meta, buildApp);
