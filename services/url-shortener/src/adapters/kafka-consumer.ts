import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Consumer } from 'kafkajs';
import type { Config } from '../config.ts';
import { createKafka, ensureClicksTopic } from './kafka-client.ts';

declare module 'fastify' {
  interface FastifyInstance {
    clicksConsumer: Consumer;
  }
}

/**
 * The stats consumer's group membership. /readyz fails until it has joined its group and after it
 * crashed for good (kafkajs restarts it by itself after retriable errors).
 */
export const kafkaConsumerAdapter = fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { config } = opts;
    const kafka = createKafka(config, app.kit.name, app.log);
    const admin = kafka.admin();
    await admin.connect();
    app.kit.resources.add('kafka-admin', () => admin.disconnect());
    await ensureClicksTopic(admin, config, app.log);

    const consumer = kafka.consumer({
      groupId: config.STATS_GROUP_ID,
      maxWaitTimeInMs: config.STATS_MAX_WAIT_MS,
      minBytes: config.STATS_MIN_BYTES,
      allowAutoTopicCreation: false,
    });
    let state: 'starting' | 'joined' | 'crashed' = 'starting';
    consumer.on(consumer.events.GROUP_JOIN, () => {
      state = 'joined';
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) state = 'crashed';
    });
    await consumer.connect();
    app.kit.resources.add('kafka-consumer', () => consumer.disconnect());
    app.kit.readiness.add('kafka', async () => {
      await admin.describeCluster();
      if (state !== 'joined') throw new Error(`stats consumer ${state}`);
    });
    app.decorate('clicksConsumer', consumer);
  },
  { name: 'kafka-consumer' },
);
