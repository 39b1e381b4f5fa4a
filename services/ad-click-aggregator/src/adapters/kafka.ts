import { createKafkaClient, ensureTopics, type SocketFactory } from '@sdlab/service-kit/kafka';
import type { FastifyBaseLogger } from 'fastify';
import type { Admin, Kafka } from 'kafkajs';
import type { Config } from '../config.ts';

export type { SocketFactory };

export function createKafka(
  config: Config,
  clientId: string,
  log: FastifyBaseLogger,
  socketFactory?: SocketFactory,
): Kafka {
  return createKafkaClient({
    clientId,
    brokers: config.KAFKA_BROKERS,
    logger: log,
    connectionTimeout: 3000,
    // Short client-level retries: the shipper and the consumer have their own loops for long
    // outages, and a shutdown should not wait out kafkajs' default ~30 s of reconnect attempts.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    ...(socketFactory ? { socketFactory } : {}),
  });
}

/**
 * The clicks topic and its dead-letter topic. The partition count of the clicks topic is the
 * aggregator's unit of scale, and an ad stays on one partition only while it is fixed.
 */
export async function ensureClickTopics(admin: Admin, config: Config, log: FastifyBaseLogger): Promise<void> {
  await ensureTopics(
    admin,
    [
      { topic: config.CLICKS_TOPIC, numPartitions: config.CLICKS_TOPIC_PARTITIONS },
      { topic: config.DEAD_LETTER_TOPIC, numPartitions: 1 },
    ],
    { log },
  );
}
