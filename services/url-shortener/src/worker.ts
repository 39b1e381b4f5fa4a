// The URL shortener's worker: the stats consumer (Kafka → per-link stats) and the scheduled
// expiry sweep (BullMQ). Same kit, `kind: 'worker'`: health, readiness, metrics, tracing and
// shutdown, without OpenAPI. Scale it by starting more: Kafka splits the partitions among them.
import { createService, runIfMain } from '@sdlab/service-kit';
import { kafkaConsumerAdapter } from './adapters/kafka-consumer.ts';
import { postgresAdapter } from './adapters/postgres.ts';
import { redisAdapter } from './adapters/redis.ts';
import { Config } from './config.ts';
import { startExpiryJob } from './domain/expiry-job.ts';
import { startStatsConsumer } from './domain/stats-consumer.ts';
import { createWorkerMetrics } from './telemetry.ts';

export async function buildWorker(env: NodeJS.ProcessEnv = process.env) {
  const service = await createService({
    name: 'url-shortener-worker',
    config: Config,
    defaults: { PORT: 9481 },
    env,
    kind: 'worker',
  });
  const { app, config, kit } = service;

  await app.register(postgresAdapter, { config });
  await app.register(redisAdapter, { config });
  await app.register(kafkaConsumerAdapter, { config });
  await app.ready();

  const metrics = createWorkerMetrics(kit.metrics);
  await startStatsConsumer({
    consumer: app.clicksConsumer,
    topic: config.CLICKS_TOPIC,
    pool: app.pg,
    redis: app.redis,
    keys: app.keys,
    metrics,
    log: app.log,
  });
  const expiry = await startExpiryJob({
    redisUrl: config.REDIS_URL,
    keys: app.keys,
    pool: app.pg,
    redis: app.redis,
    everyMs: config.EXPIRY_SWEEP_EVERY_MS,
    retentionS: config.EXPIRED_RETENTION_S,
    batchSize: config.EXPIRY_SWEEP_BATCH,
    metrics,
    log: app.log,
  });
  kit.resources.add('expiry-job', () => expiry.close());
  return { ...service, expiry };
}

runIfMain(import.meta, buildWorker);
