import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type Kafka, Partitioners, type Producer } from 'kafkajs';
import type { Config } from '../config.ts';
import { createKafka, ensureClicksTopic } from './kafka-client.ts';

declare module 'fastify' {
  interface FastifyInstance {
    kafka: Kafka;
    clicksProducer: Producer;
    /** The clicks topic's partition count: the publisher packs a flush's clicks per partition. */
    clicksPartitions: number;
  }
}

/**
 * Topic set-up and the click producer; disconnected on shutdown. Kafka is deliberately not a
 * readiness check of this process: a redirect never waits for it, and a Kafka outage must not take
 * every instance out of the load balancer ("redirects stay available"). Lost click events are the
 * signal (`sdlab_shortener_click_events_failed_total`); the worker's /readyz names Kafka.
 */
export const kafkaProducerAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const kafka = createKafka(opts.config, app.kit.name, app.log);
    const admin = kafka.admin();
    await admin.connect();
    app.kit.resources.add('kafka-admin', () => admin.disconnect());
    await ensureClicksTopic(admin, opts.config, app.log);
    const metadata = await admin.fetchTopicMetadata({ topics: [opts.config.CLICKS_TOPIC] });
    const partitions = metadata.topics[0]?.partitions.length ?? opts.config.CLICKS_TOPIC_PARTITIONS;
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      // Named explicitly: the murmur2 partitioner Java clients use, so a code's partition is the
      // same whichever client produced it.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    app.kit.resources.add('kafka-producer', () => producer.disconnect());
    app.decorate('kafka', kafka);
    app.decorate('clicksProducer', producer);
    app.decorate('clicksPartitions', partitions);
  },
  { name: 'kafka-producer' },
);
