import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { DEV_IMPRESSION_KEY } from '../src/config.ts';
import { signImpression } from '../src/domain/impression.ts';
import { createAd } from './support/ads.ts';
import { startApi } from './support/app.ts';
import { ADMIN } from './support/auth.ts';
import { metric } from './support/metrics.ts';

describe('click ingest', () => {
  test('verifies the signed impression, drops repeats, spools and produces each click once, keyed by ad', async ({
    pg,
    redis,
    kafka,
  }) => {
    const service = await startApi({ pg, redis, kafka }, 3);
    const { topics } = service;
    const { app } = service;
    try {
      await createAd(app, { adId: 'ad-1', campaignId: 'spring', targetUrl: 'https://shop.example.com/sale' });
      const signed = await app.inject({
        method: 'POST',
        headers: ADMIN,
        url: '/ads/ad-1/impressions',
        payload: { count: 2 },
      });
      expect(signed.statusCode).toBe(200);
      const [first, second] = signed.json().impressions as { id: string; clickUrl: string }[];

      const click = await app.inject(first!.clickUrl);
      expect(click.statusCode).toBe(302);
      expect(click.headers.location).toBe('https://shop.example.com/sale');
      expect(click.headers['cache-control']).toBe('no-store');
      expect(click.headers['x-click-outcome']).toBe('recorded');
      const repeat = await app.inject(first!.clickUrl);
      expect(repeat.statusCode).toBe(302);
      expect(repeat.headers['x-click-outcome']).toBe('duplicate');
      expect((await app.inject(second!.clickUrl)).headers['x-click-outcome']).toBe('recorded');

      // Forged: a valid shape signed with another key; tampered: the ad id changed after signing.
      const forged = signImpression('some-other-key-entirely', {
        adId: 'ad-1',
        campaignId: 'spring',
        issuedAt: Date.now(),
      });
      const tampered = first!.id.replace('ad-1', 'ad-2');
      const unknownAd = signImpression(DEV_IMPRESSION_KEY, {
        adId: 'nope',
        campaignId: 'x',
        issuedAt: Date.now(),
      });
      const responses = {
        forged: await app.inject(`/c/${forged}`),
        tampered: await app.inject(`/c/${tampered}`),
        malformed: await app.inject('/c/not-an-impression'),
        overlong: await app.inject(`/c/${'a'.repeat(99)}.${'b'.repeat(99)}`),
        unknownAd: await app.inject(`/c/${unknownAd}`),
      };
      expect(responses.forged.statusCode).toBe(403);
      expect(responses.forged.json()).toMatchObject({ code: 'SDLAB_ADCLICK_IMPRESSION_FORGED' });
      expect(responses.tampered.statusCode).toBe(403);
      expect(responses.malformed.statusCode).toBe(400);
      expect(responses.malformed.headers['content-type']).toContain('application/problem+json');
      expect(responses.overlong.statusCode).toBe(400);
      expect(responses.unknownAd.statusCode).toBe(404);

      const registry = app.kit.metrics;
      expect(await metric(registry, 'sdlab_adclick_ingest_clicks_total', { outcome: 'recorded' })).toBe(2);
      expect(await metric(registry, 'sdlab_adclick_ingest_clicks_total', { outcome: 'duplicate' })).toBe(1);
      expect(await metric(registry, 'sdlab_adclick_ingest_clicks_total', { outcome: 'rejected' })).toBe(5);
      expect(await metric(registry, 'sdlab_adclick_ingest_rejected_total', { reason: 'bad_signature' })).toBe(
        2,
      );
      expect(await metric(registry, 'sdlab_adclick_ingest_rejected_total', { reason: 'malformed' })).toBe(2);
      expect(await metric(registry, 'sdlab_adclick_ingest_rejected_total', { reason: 'unknown_ad' })).toBe(1);

      await waitFor(
        'both clicks shipped',
        async () => (await metric(registry, 'sdlab_adclick_spool_shipped_total')) === 2,
      );
      const consumer = kafka.kafka.consumer({ groupId: kafka.groupId('reader') });
      const seen: { key: string; value: { impressionId: string; adId: string }; partition: number }[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: topics.clicks, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message, partition }) => {
          seen.push({ key: String(message.key), value: JSON.parse(String(message.value)), partition });
        },
      });
      try {
        await waitFor('two messages on the clicks topic', () => seen.length >= 2);
      } finally {
        await consumer.disconnect();
      }
      expect(seen.map((m) => m.value.impressionId).sort()).toEqual([first!.id, second!.id].sort());
      expect(seen.every((m) => m.key === 'ad-1')).toBe(true);
      expect(new Set(seen.map((m) => m.partition)).size).toBe(1);
    } finally {
      await service.close();
    }
  });

  test('refuses the development signer once a real key is configured', async ({ pg, redis, kafka }) => {
    const api = await startApi({ pg, redis, kafka }, 1, { IMPRESSION_KEY: 'a-real-secret-key-0123456789' });
    const { app } = api;
    try {
      await createAd(app, { adId: 'ad-1', campaignId: 'c', targetUrl: 'https://example.com/' });
      const response = await app.inject({
        method: 'POST',
        url: '/ads/ad-1/impressions',
        headers: ADMIN,
        payload: {},
      });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({ code: 'SDLAB_ADCLICK_SIGNER_DISABLED' });
    } finally {
      await api.close();
    }
  });
});
