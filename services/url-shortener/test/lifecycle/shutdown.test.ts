import { describe, expect } from 'vitest';
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

      const offsets = await kafka.admin.fetchTopicOffsets(topic);
      const sent = offsets.reduce((sum, p) => sum + Number(p.high), 0);
      expect(sent).toBe(5);
    } finally {
      await kafka.admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    }
  });
});
