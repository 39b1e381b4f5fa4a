import { createKafkaClient, type KafkaLog } from '@sdlab/service-kit/kafka';
import type { Kafka } from 'kafkajs';

const quiet: KafkaLog = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A kafkajs client for a bench or the runner, made as the services make theirs (the kit's
 * `createKafkaClient`), its log dropped. A bare `new Kafka()` re-arms a 1 ms timer on every broker
 * connection for as long as it lives (libs/service-kit/src/kafkajs-request-queue.ts): CPU a
 * bench would count and the services do not pay, and a TimeoutNegativeWarning on Node 24.
 */
export function benchKafka(clientId: string, brokers: string | readonly string[]): Kafka {
  return createKafkaClient({ clientId, brokers, logger: quiet });
}
