import { Client } from '@elastic/elasticsearch';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PrivateKafka,
  type PrivateServer,
  startLatencyProxy,
  startPrivateElasticsearch,
  startPrivateKafka,
} from '../src/index.ts';

// The servers the Kafka and Elasticsearch fault scenarios stop: the installed binaries on free
// ports. A restart must keep what a compose volume keeps (topics, offsets, indices, documents).

describe('a private Kafka broker', () => {
  let server: PrivateKafka;
  beforeAll(async () => {
    server = await startPrivateKafka();
  });
  afterAll(() => server?.dispose());

  it('keeps topics, messages and committed offsets across a SIGKILL and restart, and never auto-creates', async () => {
    const kafka = new Kafka({
      clientId: 'testkit-private-kafka-test',
      brokers: server.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
      connectionTimeout: 1000,
    });
    const admin = kafka.admin();
    await admin.connect();
    const broker = await admin.describeConfigs({
      resources: [
        { type: ConfigResourceTypes.BROKER, name: '1', configNames: ['auto.create.topics.enable'] },
      ],
      includeSynonyms: false,
    });
    expect(broker.resources[0]?.configEntries[0]?.configValue).toBe('false');
    await admin.createTopics({ topics: [{ topic: 'round-trip', numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();

    const produce = async (values: string[]) => {
      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      try {
        await producer.send({ topic: 'round-trip', acks: -1, messages: values.map((value) => ({ value })) });
      } finally {
        await producer.disconnect();
      }
    };
    const consume = async (count: number) => {
      const consumer = kafka.consumer({ groupId: 'round-trip-group', allowAutoTopicCreation: false });
      await consumer.connect();
      await consumer.subscribe({ topic: 'round-trip', fromBeginning: true });
      const seen: string[] = [];
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`saw ${seen.length} of ${count}`)), 60_000);
          consumer
            .run({
              eachMessage: async ({ message }) => {
                seen.push(message.value!.toString());
                if (seen.length >= count) {
                  clearTimeout(timer);
                  resolve();
                }
              },
            })
            .catch(reject);
        });
      } finally {
        await consumer.disconnect(); // commits what eachMessage resolved
      }
      return seen.sort();
    };

    await produce(['a1', 'a2', 'a3']);
    expect(await consume(3)).toEqual(['a1', 'a2', 'a3']);

    await server.kill();
    await expect(produce(['lost'])).rejects.toThrow();
    await server.start();

    await produce(['b1', 'b2']);
    // Only the new messages: the group's committed offsets survived the crash.
    expect(await consume(2)).toEqual(['b1', 'b2']);
  }, 240_000);
});

describe('a private Elasticsearch node', () => {
  let server: PrivateServer;
  beforeAll(async () => {
    server = await startPrivateElasticsearch();
  });
  afterAll(() => server?.dispose());

  it('keeps its index across a SIGKILL and restart, and has the compat plugin of the shared node', async () => {
    const es = new Client({ node: server.url, maxRetries: 0, requestTimeout: 5000 });
    try {
      // The sdlab-compat plugin provides GET / and edge_ngram; without it the services cannot start.
      expect((await es.info()).version.number).toMatch(/^8\./);
      await es.indices.create({
        index: 'events',
        settings: {
          analysis: { filter: { prefix: { type: 'edge_ngram', min_gram: 1, max_gram: 10 } } },
        },
        mappings: { properties: { name: { type: 'text' } } },
      });
      await es.index({ index: 'events', id: '1', document: { name: 'Jazz night' }, refresh: 'wait_for' });

      await server.kill();
      await expect(es.search({ index: 'events' })).rejects.toThrow();
      await server.start();

      await es.index({ index: 'events', id: '2', document: { name: 'Jazz quartet' }, refresh: 'wait_for' });
      const result = await es.search<{ name: string }>({
        index: 'events',
        query: { match: { name: 'jazz' } },
      });
      expect(result.hits.hits.map((h) => h._source?.name).sort()).toEqual(['Jazz night', 'Jazz quartet']);
    } finally {
      await es.close();
    }
  }, 300_000);

  it('a latency proxy in front of it delays answers, cuts the link and restores it', async () => {
    const proxy = await startLatencyProxy(server.url);
    const es = new Client({ node: proxy.url, maxRetries: 0, requestTimeout: 3000 });
    const timed = async () => {
      const started = performance.now();
      await es.cluster.health();
      return performance.now() - started;
    };
    try {
      expect(await timed()).toBeLessThan(500);
      proxy.setDelay(800);
      expect(await timed()).toBeGreaterThanOrEqual(800);
      // undici closes the connection after a HEAD request: the server's close must reach the
      // client after the delayed answer, not ahead of it.
      expect(await es.ping()).toBe(true);
      proxy.setDelay(5000);
      await expect(es.cluster.health()).rejects.toThrow(/timed out|timeout/i);
      proxy.setDelay(0);
      proxy.cut();
      await expect(es.cluster.health()).rejects.toThrow();
      proxy.restore();
      expect(await timed()).toBeLessThan(500);
    } finally {
      await es.close();
      await proxy.close();
    }
  }, 60_000);
});
