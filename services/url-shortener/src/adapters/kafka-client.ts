import { retry } from '@sdlab/service-kit/retry';
import type { FastifyBaseLogger } from 'fastify';
import { type Admin, Kafka, type LogEntry, logLevel } from 'kafkajs';
import type { Config } from '../config.ts';

const NOT_READY = /does not host this topic-partition|leader|coordinator is loading/i;

export function createKafka(config: Config, clientId: string, log: FastifyBaseLogger): Kafka {
  return new Kafka({
    clientId,
    brokers: config.KAFKA_BROKERS.split(',').map((b) => b.trim()),
    logLevel: logLevel.WARN,
    // kafkajs logs to the console by default; route it through pino so lines carry the trace id.
    logCreator:
      () =>
      ({ level, log: { message, ...extra } }: LogEntry) => {
        if (level <= logLevel.ERROR) log.error({ kafka: extra }, message);
        else if (level === logLevel.WARN) log.warn({ kafka: extra }, message);
      },
  });
}

/**
 * The clicks topic with its partition count, created explicitly by whichever process starts
 * first: brokers here never auto-create, and an accidental topic would get the broker's default.
 */
export async function ensureClicksTopic(admin: Admin, config: Config, log: FastifyBaseLogger): Promise<void> {
  const topic = config.CLICKS_TOPIC;
  // A topic just created (here or by the other process starting beside this one) can answer
  // "This server does not host this topic-partition" until its leaders are known, which kafkajs'
  // own wait for leaders does not retry: try again within a start-up budget instead of exiting.
  const metadata = await retry(
    async () => {
      // Asking first keeps the usual restart quiet: kafkajs logs the broker's "already exists"
      // answer at error level. Two instances racing past this check still end well (false).
      const existing = (await admin.listTopics()).includes(topic);
      const created =
        !existing &&
        (await admin.createTopics({
          topics: [{ topic, numPartitions: config.CLICKS_TOPIC_PARTITIONS }],
          waitForLeaders: true,
        }));
      if (created) log.info({ topic, partitions: config.CLICKS_TOPIC_PARTITIONS }, 'created kafka topic');
      return admin.fetchTopicMetadata({ topics: [topic] });
    },
    {
      maxAttempts: 30,
      maxElapsedMs: 30_000,
      isRetriable: (error) =>
        (error as { retriable?: boolean }).retriable === true ||
        NOT_READY.test(String((error as Error).message)),
      onRetry: ({ error, attempt }) =>
        log.info({ err: error, attempt }, 'clicks topic not ready yet; waiting'),
    },
  );
  const partitions = metadata.topics[0]?.partitions.length ?? 0;
  if (partitions !== config.CLICKS_TOPIC_PARTITIONS) {
    log.warn(
      { topic, partitions, configured: config.CLICKS_TOPIC_PARTITIONS },
      'clicks topic exists with another partition count',
    );
  }
}
