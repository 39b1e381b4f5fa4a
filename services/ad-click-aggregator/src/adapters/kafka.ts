import { retry } from '@sdlab/service-kit/retry';
import type { FastifyBaseLogger } from 'fastify';
import { type Admin, Kafka, type KafkaConfig, type LogEntry, logLevel } from 'kafkajs';
import { brokers, type Config } from '../config.ts';

const REBALANCING = /rebalanc/i;
const NOT_READY = /does not host this topic-partition|leader|coordinator is loading/i;
const CONNECTION = /connection error|failed to connect|ECONNREFUSED|timed out|closed connection/i;

/** How kafkajs opens its TCP connections; tests pass one that can cut the link to the broker. */
export type SocketFactory = NonNullable<KafkaConfig['socketFactory']>;

export function createKafka(
  config: Config,
  clientId: string,
  log: FastifyBaseLogger,
  socketFactory?: SocketFactory,
): Kafka {
  return new Kafka({
    clientId,
    brokers: brokers(config),
    logLevel: logLevel.WARN,
    connectionTimeout: 3000,
    // Short client-level retries: the shipper and the consumer have their own loops for long
    // outages, and a shutdown should not wait out kafkajs' default ~30 s of reconnect attempts.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    ...(socketFactory ? { socketFactory } : {}),
    // kafkajs logs to the console by default; route it through pino so it carries the trace id.
    logCreator:
      () =>
      ({ level, log: { message, ...extra } }: LogEntry) => {
        // "The group is rebalancing" answers to heartbeats are how a rebalance starts, not failures;
        // connection errors repeat on every retry of an outage, which the callers report once.
        if (level <= logLevel.ERROR && REBALANCING.test(String(extra.error ?? '')))
          log.info({ kafka: extra }, message);
        else if (level <= logLevel.ERROR && CONNECTION.test(message)) log.warn({ kafka: extra }, message);
        // Deliberate: the spool shipper limits retries and replaces the producer after a failure;
        // what a replaced producer re-sends is deduplicated by the aggregator's raw-click key.
        else if (message.startsWith('Limiting retries for the idempotent producer'))
          log.debug({ kafka: extra }, message);
        else if (level <= logLevel.ERROR) log.error({ kafka: extra }, message);
        else if (level === logLevel.WARN) log.warn({ kafka: extra }, message);
      },
  });
}

/**
 * The clicks topic and its dead-letter topic, created explicitly: brokers here never auto-create,
 * and a topic made by accident would get the broker's default partition count. The partition
 * count of the clicks topic is the aggregator's unit of scale.
 */
export async function ensureTopics(admin: Admin, config: Config, log: FastifyBaseLogger): Promise<void> {
  const wanted = [
    { topic: config.CLICKS_TOPIC, numPartitions: config.CLICKS_TOPIC_PARTITIONS },
    { topic: config.DEAD_LETTER_TOPIC, numPartitions: 1 },
  ];
  // A topic just created (by this process or by the API starting beside it) can answer "This
  // server does not host this topic-partition" until its leaders are known, a retriable error
  // that kafkajs' own wait for leaders does not retry: try again, within a start-up budget,
  // instead of exiting.
  const metadata = await retry(
    async () => {
      const existing = new Set(await admin.listTopics());
      const missing = wanted.filter((t) => !existing.has(t.topic));
      if (missing.length) {
        await admin.createTopics({ topics: missing, waitForLeaders: true }).catch((error: unknown) => {
          // Another instance created it first.
          if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
        });
        log.info({ topics: missing }, 'created kafka topics');
      }
      return admin.fetchTopicMetadata({ topics: [config.CLICKS_TOPIC] });
    },
    {
      maxAttempts: 30,
      maxElapsedMs: 30_000,
      isRetriable: (error) => (error as { retriable?: boolean }).retriable === true,
      onRetry: ({ error, attempt }) =>
        log.info({ err: error, attempt }, 'clicks topic not ready yet; waiting'),
    },
  );
  const partitions = metadata.topics[0]?.partitions.length ?? 0;
  if (partitions !== config.CLICKS_TOPIC_PARTITIONS) {
    log.warn(
      { topic: config.CLICKS_TOPIC, partitions, configured: config.CLICKS_TOPIC_PARTITIONS },
      'clicks topic exists with another partition count (ads stay on one partition only while it is fixed)',
    );
  }
}
