import { describe, expect } from 'vitest';
import { parseClicks } from '../../src/domain/clicks.ts';
import { buildApp } from '../../src/main.ts';
import { test } from '../support/fixtures.ts';

describe('shutdown', () => {
  test('closes the click buffer before the producer, so buffered clicks are sent, not lost', async ({
    env,
    kafka,
    pg,
  }) => {
    void pg;
    // A linger far longer than the test: only the shutdown drain can send these clicks.
    const service = await buildApp({ ...env, CLICK_FLUSH_MS: '10000' });
    const topic = service.config.CLICKS_TOPIC;
    try {
      const { app } = service;
      await app.ready();
      expect(app.kit.resources.names).toEqual([
        'postgres',
        'redis',
        'kafka-admin',
        'kafka-producer',
        'click-publisher',
      ]);
      const code = (
        await app.inject({
          method: 'POST',
          url: '/api/links',
          headers: { 'content-type': 'application/json' },
          payload: { url: 'https://example.com/bye' },
        })
      ).json().code as string;
      for (let i = 0; i < 5; i++)
        expect((await app.inject({ method: 'GET', url: `/${code}` })).statusCode).toBe(302);
      await app.close();

      // Every click is in the topic: read back what was sent (a flush packs a partition's clicks
      // into one message) and count the clicks, not the messages.
      const offsets = await kafka.admin.fetchTopicOffsets(topic);
      const messages = offsets.reduce((sum, p) => sum + Number(p.high), 0);
      expect(messages).toBeGreaterThan(0);
      const consumer = kafka.kafka.consumer({ groupId: `${topic}-check` });
      const clicks: string[] = [];
      let read = 0;
      try {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            read++;
            clicks.push(...parseClicks(message.value).clicks.map((c) => c.code));
          },
        });
        await expect.poll(() => read, { timeout: 20_000 }).toBe(messages);
      } finally {
        await consumer.disconnect();
      }
      expect(clicks).toEqual([code, code, code, code, code]);
    } finally {
      await kafka.admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    }
  });
});
