import { Client } from '@elastic/elasticsearch';
import { startLatencyProxy, test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { startBooking } from './support/app.ts';
import { bookingEnv } from './support/env.ts';

describe('search index set-up', () => {
  test('a start-up waits out an Elasticsearch slower than a search may be, and creates the index', async ({
    pg,
    redis,
    es,
  }) => {
    // Every answer 2.5 s late: over SEARCH_TIMEOUT_MS (2 s), well under the set-up's 30 s.
    const proxy = await startLatencyProxy(es.url);
    proxy.setDelay(2_500);
    const env = bookingEnv({ pg, redis, es }, { ELASTICSEARCH_URL: proxy.url, SEARCH_TIMEOUT_MS: '2000' });
    try {
      const service = await startBooking(env);
      await service.app.close();
    } finally {
      await proxy.close();
    }
    const direct = new Client({ node: es.url });
    try {
      const index = env.SEARCH_INDEX!;
      expect(await direct.indices.exists({ index })).toBe(true);
      const mapping = await direct.indices.getMapping({ index });
      expect(Object.values(mapping)[0]?.mappings.properties).toHaveProperty('version');
    } finally {
      await direct.close();
    }
  });
});
