import { Client as Elasticsearch } from '@elastic/elasticsearch';
import { Redis } from 'ioredis';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { test as base, inject } from 'vitest';
import type { Endpoints } from './endpoints.ts';
import { createTestDatabase, dropTestDatabase } from './postgres.ts';
import { deleteRedisKeys } from './redis-keys.ts';
import { uniqueId } from './unique-id.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set once per run by the testkit's global setup. */
    sdlabEndpoints: Endpoints;
  }
}

export interface PgFixture {
  /** Connection string of a database created for this test and dropped after it. */
  url: string;
  database: string;
  pool: pg.Pool;
}

export interface RedisFixture {
  url: string;
  client: Redis;
  /** Every key this test writes starts with it; they are deleted afterwards. */
  prefix: string;
  key(name: string): string;
}

export interface KafkaFixture {
  brokers: string[];
  kafka: Kafka;
  admin: Admin;
  /** Creates a topic with a unique name (explicit partitions: brokers here never auto-create). */
  createTopic(name: string, partitions?: number): Promise<string>;
  groupId(name: string): string;
}

export interface EsFixture {
  url: string;
  client: Elasticsearch;
  /** A unique index name; the index, if created, is deleted afterwards. */
  index(name: string): string;
}

export interface Fixtures {
  endpoints: Endpoints;
  pg: PgFixture;
  redis: RedisFixture;
  kafka: KafkaFixture;
  es: EsFixture;
}

/**
 * vitest `test` with real-infrastructure fixtures. Each is created only when a test asks for it
 * and cleaned up after that test, including on failure.
 */
export const test = base.extend<Fixtures>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads fixture dependencies from this pattern
  endpoints: async ({}, use) => {
    await use(inject('sdlabEndpoints'));
  },

  pg: async ({ endpoints }, use) => {
    const database = `t_${uniqueId()}`;
    const url = await createTestDatabase(endpoints.postgres, database);
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    // pool.end() resolves before every socket has closed, and the DROP ... WITH (FORCE) below
    // terminates what is left: that 57P01 is expected here, not a test failure.
    pool.on('error', () => undefined);
    try {
      await use({ url, database, pool });
    } finally {
      await pool.end();
      await dropTestDatabase(endpoints.postgres, database);
    }
  },

  redis: async ({ endpoints }, use) => {
    const prefix = `t:${uniqueId()}:`;
    const client = new Redis(endpoints.redis, { maxRetriesPerRequest: 2 });
    try {
      await use({ url: endpoints.redis, client, prefix, key: (name) => `${prefix}${name}` });
    } finally {
      await deleteRedisKeys(client, prefix);
      client.disconnect();
    }
  },

  kafka: async ({ endpoints }, use) => {
    const id = uniqueId();
    const kafka = new Kafka({
      clientId: `testkit-${id}`,
      brokers: endpoints.kafka,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    const topics: string[] = [];
    try {
      await use({
        brokers: endpoints.kafka,
        kafka,
        admin,
        async createTopic(name, partitions = 1) {
          const topic = `t-${id}-${name}`;
          await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
          topics.push(topic);
          return topic;
        },
        groupId: (name) => `t-${id}-${name}`,
      });
    } finally {
      if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
    }
  },

  es: async ({ endpoints }, use) => {
    const id = uniqueId();
    const client = new Elasticsearch({ node: endpoints.elasticsearch });
    const indices: string[] = [];
    try {
      await use({
        url: endpoints.elasticsearch,
        client,
        index(name) {
          const index = `t-${id}-${name}`;
          indices.push(index);
          return index;
        },
      });
    } finally {
      if (indices.length) await client.indices.delete({ index: indices, ignore_unavailable: true });
      await client.close();
    }
  },
});
