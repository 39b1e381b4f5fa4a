import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { createAd } from './support/ads.ts';
import { startApi } from './support/app.ts';

describe('ad cache', () => {
  test('serves a cached ad until AD_CACHE_TTL_MS has passed, then reads Postgres again', async ({
    pg,
    redis,
    kafka,
  }) => {
    const service = await startApi({ pg, redis, kafka }, 1, { AD_CACHE_TTL_MS: '300' });
    const { app } = service;
    try {
      await createAd(app, {
        adId: 'ad-ttl',
        campaignId: 'spring',
        targetUrl: 'https://shop.example.com/old',
      });
      expect((await app.adDirectory.get('ad-ttl'))?.targetUrl).toBe('https://shop.example.com/old');
      // Cached: answered without a promise.
      expect(app.adDirectory.cached('ad-ttl')?.targetUrl).toBe('https://shop.example.com/old');

      // Changed behind the cache's back: the cache keeps the old target until the entry expires.
      await app.pg.query('UPDATE adclick.ads SET target_url = $1 WHERE ad_id = $2', [
        'https://shop.example.com/new',
        'ad-ttl',
      ]);
      await waitFor('the cached ad to expire', () => app.adDirectory.cached('ad-ttl') === undefined, 10_000);
      expect((await app.adDirectory.get('ad-ttl'))?.targetUrl).toBe('https://shop.example.com/new');
      expect(app.adDirectory.cached('ad-ttl')?.targetUrl).toBe('https://shop.example.com/new');
    } finally {
      await service.close();
    }
  });
});
