import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type Kafka, Partitioners, type Producer } from 'kafkajs';
import type { Config } from '../config.ts';
import { createKafka, ensureClicksTopic } from './kafka-client.ts';

declare module 'fastify' {
  interface FastifyInstance {
    kafka: Kafka;
    clicksProducer: Producer;
  }
}

/** Topic set-up, the click producer, and a broker check for /readyz; disconnected on shutdown. */
export const kafkaProducerAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const kafka = createKafka(opts.config, app.kit.name, app.log);
    const admin = kafka.admin();
    await admin.connect();
    app.kit.resources.add('kafka-admin', () => admin.disconnect());
    await ensureClicksTopic(admin, opts.config, app.log);
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      // Named explicitly: the murmur2 partitioner Java clients use, so a code's partition is the
      // same whichever client produced it.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    app.kit.resources.add('kafka-producer', () => producer.disconnect());
    app.kit.readiness.add('kafka', () => admin.describeCluster());
    app.decorate('kafka', kafka);
    app.decorate('clicksProducer', producer);
  },
  { name: 'kafka-producer' },
);
