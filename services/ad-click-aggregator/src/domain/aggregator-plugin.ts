import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createKafka, ensureClickTopics } from '../adapters/kafka.ts';
import type { Config } from '../config.ts';
import { type AggregatorMetrics, createAggregatorMetrics } from '../telemetry.ts';
import { type AggregateStore, createAggregateStore } from './aggregate-store.ts';
import { Aggregator } from './aggregator.ts';
import { startReconcileJob } from './reconcile-job.ts';
import { createTopK, type TopK } from './topk.ts';

declare module 'fastify' {
  interface FastifyInstance {
    aggregator: Aggregator;
    aggregateStore: AggregateStore;
    aggregatorMetrics: AggregatorMetrics;
    topK: TopK;
  }
}

/** The worker's domain: the windowed consumer and the reconciliation job, stopped newest first. */
export const aggregatorPlugin = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const workerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const metrics = createAggregatorMetrics(app.kit.metrics);
    const store = createAggregateStore(app.pg, { topic: config.CLICKS_TOPIC, workerId });
    const topK = createTopK({
      redis: app.redis,
      pool: app.pg,
      keys: app.keys,
      ttlSeconds: config.TOPK_TTL_S,
      log: app.log,
    });

    const kafka = createKafka(config, `${app.kit.name}-${workerId}`, app.log);
    const admin = kafka.admin();
    await admin.connect();
    app.kit.resources.add('kafka-admin', () => admin.disconnect());
    await ensureClickTopics(admin, config, app.log);
    app.kit.readiness.add('kafka', () => admin.describeCluster());

    const aggregator = new Aggregator({
      kafka,
      admin,
      topic: config.CLICKS_TOPIC,
      deadLetterTopic: config.DEAD_LETTER_TOPIC,
      groupId: config.CONSUMER_GROUP,
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatMs: config.KAFKA_HEARTBEAT_MS,
      maxBytesPerPartition: config.KAFKA_MAX_BYTES_PER_PARTITION,
      fetchMaxBytes: config.KAFKA_FETCH_MAX_BYTES,
      fetchMinBytes: config.KAFKA_FETCH_MIN_BYTES,
      fetchMaxWaitMs: config.KAFKA_FETCH_MAX_WAIT_MS,
      latenessMs: config.ALLOWED_LATENESS_MS,
      flushIntervalMs: config.FLUSH_INTERVAL_MS,
      flushMaxEvents: config.FLUSH_MAX_EVENTS,
      flushConcurrency: config.FLUSH_CONCURRENCY,
      store,
      topK,
      metrics,
      log: app.log,
    });
    // Joining the group waits for the members it replaces. After a SIGKILL that is until the dead
    // member's session expires (KAFKA_SESSION_TIMEOUT_MS, 30 s), longer than Fastify lets a plugin
    // start (10 s): a restarted worker failed to boot at all (infra/faults: instance-killed). So
    // the join runs in the background, and /readyz says "aggregator" is not ready until it is done.
    let joined = false;
    let joinFailed: Error | undefined;
    const joining = aggregator.start().then(
      () => {
        joined = true;
      },
      (error: Error) => {
        joinFailed = error;
        app.log.error({ err: error }, 'the aggregator could not join its consumer group');
      },
    );
    app.kit.resources.add('aggregator', async () => {
      await joining;
      await aggregator.stop();
    });
    app.kit.readiness.add('aggregator', async () => {
      if (joinFailed) throw joinFailed;
      if (!joined) throw new Error('joining the consumer group');
      aggregator.health();
    });

    const job = await startReconcileJob({
      redisUrl: config.REDIS_URL,
      keys: app.keys,
      pool: app.pg,
      topK,
      store,
      cron: config.RECONCILE_CRON,
      schedule: config.RECONCILE_ENABLED,
      retentionDays: config.RAW_RETENTION_DAYS,
      options: { threshold: config.RECONCILE_DRIFT_THRESHOLD, alertRatio: config.RECONCILE_ALERT_RATIO },
      metrics,
      log: app.log,
    });
    app.kit.resources.add('reconcile-job', () => job.close());

    app.decorate('aggregator', aggregator);
    app.decorate('aggregateStore', store);
    app.decorate('aggregatorMetrics', metrics);
    app.decorate('topK', topK);
  },
  { name: 'aggregator', dependencies: ['postgres', 'redis'] },
);
