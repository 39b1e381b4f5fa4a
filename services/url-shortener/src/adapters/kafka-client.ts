import { createKafkaClient, ensureTopics } from '@sdlab/service-kit/kafka';
import type { FastifyBaseLogger } from 'fastify';
import type { Admin, Kafka } from 'kafkajs';
import type { Config } from '../config.ts';

export function createKafka(config: Config, clientId: string, log: FastifyBaseLogger): Kafka {
  return createKafkaClient({ clientId, brokers: config.KAFKA_BROKERS, logger: log });
}

/** The clicks topic with its partition count, created by whichever process (API or worker) starts first. */
export async function ensureClicksTopic(admin: Admin, config: Config, log: FastifyBaseLogger): Promise<void> {
  await ensureTopics(admin, [{ topic: config.CLICKS_TOPIC, numPartitions: config.CLICKS_TOPIC_PARTITIONS }], {
    log,
  });
}
