import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { DEV_IMPRESSION_KEY } from '../src/config.ts';
import { signImpression } from '../src/domain/impression.ts';
import { buildApp } from '../src/main.ts';
import { buildWorker } from '../src/worker.ts';
import { createAd } from './support/ads.ts';
import { ADMIN } from './support/auth.ts';
import { increment, rollUp, sorted, storedCounts } from './support/counts.ts';
import { spooledEnv } from './support/env.ts';
import { metric } from './support/metrics.ts';
import { topicEnd, waitAllCommitted } from './support/offsets.ts';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const MIN = 60_000;
const ADS = Array.from({ length: 12 }, (_, i) => `ad-${String(i).padStart(2, '0')}`);

/** Deterministic pseudo-random numbers (mulberry32), so a failure reproduces. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('ground truth', () => {
  test('final per-window counts equal what the generator sent, minus duplicates, forgeries and too-late clicks', async ({
    pg,
    redis,
    kafka,
  }) => {
    const { topics, spool, env } = await spooledEnv({ pg, redis, kafka }, 4);
    let now = T0;
    const ingest = await buildApp(env, { now: () => now });
    const worker = await buildWorker(env);
    const app = ingest.app;
    const rand = random(7);
    const expected = new Map<string, number>();
    const sent = { recorded: 0, duplicates: 0, tooLate: 0, lateCounted: 0, forged: 0, malformed: 0 };

    async function click(at: number, adId: string, { count = true, repeat = false } = {}) {
      now = at;
      const id = signImpression(DEV_IMPRESSION_KEY, { adId, campaignId: 'spring', issuedAt: at - 1000 });
      const response = await app.inject(`/c/${id}`);
      expect(response.statusCode).toBe(302);
      expect(response.headers['x-click-outcome']).toBe('recorded');
      sent.recorded++;
      if (count) increment(expected, `${adId}|${new Date(at - (at % MIN)).toISOString()}`);
      if (repeat) {
        const again = await app.inject(`/c/${id}`);
        expect(again.headers['x-click-outcome']).toBe('duplicate');
        sent.duplicates++;
      }
    }

    try {
      for (const adId of ADS) {
        await createAd(app, { adId, campaignId: 'spring', targetUrl: `https://example.com/${adId}` });
      }

      // A: 1,000 clicks in event-time order over ten minutes, skewed towards the first ads; every
      // 13th is clicked twice (a duplicate), and forged and malformed ids are mixed in.
      for (let i = 0; i < 1000; i++) {
        const adId = ADS[Math.floor(rand() ** 2 * ADS.length)]!;
        await click(T0 + i * 600, adId, { repeat: i % 13 === 0 });
        if (i % 50 === 0) {
          const forged = signImpression('not-the-service-key!', {
            adId,
            campaignId: 'spring',
            issuedAt: now,
          });
          expect((await app.inject(`/c/${forged}`)).statusCode).toBe(403);
          sent.forged++;
        }
        if (i % 100 === 0) {
          expect((await app.inject(`/c/${adId}.spring.zz.garbage`)).statusCode).toBe(400);
          sent.malformed++;
        }
      }
      // The frontier: one click per ad at F, so every partition's newest event is at least F.
      const F = T0 + 10 * MIN;
      for (const adId of ADS) await click(F, adId);
      // B: 3 minutes behind the frontier (within the 5-minute lateness): counted in their windows.
      for (let j = 0; j < 60; j++) {
        await click(F - 3 * MIN + j * 100, ADS[j % ADS.length]!);
        sent.lateCounted++;
      }
      // C: 8 minutes behind: their windows are final, so they are dead-lettered, never counted.
      for (let j = 0; j < 30; j++) {
        await click(F - 8 * MIN + j * 100, ADS[j % ADS.length]!, { count: false });
        sent.tooLate++;
      }
      // D: on time again (still under F + 1 min, so B's lateness stays below 5 minutes).
      for (let j = 0; j < 24; j++) await click(F + 30_000 + j * 100, ADS[j % ADS.length]!);

      await waitFor(
        'the spool to drain into Kafka',
        async () => (await metric(app.kit.metrics, 'sdlab_adclick_spool_shipped_total')) === sent.recorded,
      );
      const end = await waitAllCommitted(pg.pool, kafka.admin, topics.clicks);
      expect(end).toBe(sent.recorded);

      // Exactly the ground truth, at every granularity.
      expect(sorted(await storedCounts(pg.pool, 'minute'))).toEqual(sorted(expected));
      expect(sorted(await storedCounts(pg.pool, 'hour'))).toEqual(sorted(rollUp(expected, 60 * MIN)));
      expect(sorted(await storedCounts(pg.pool, 'day'))).toEqual(sorted(rollUp(expected, 1440 * MIN)));

      const raw = await pg.pool.query<{ late: boolean; n: string }>(
        'SELECT late, count(*)::text AS n FROM adclick.raw_clicks GROUP BY late',
      );
      const rawBy = Object.fromEntries(raw.rows.map((r) => [String(r.late), Number(r.n)]));
      expect(rawBy).toEqual({ false: sent.recorded - sent.tooLate, true: sent.tooLate });
      expect(await topicEnd(kafka.admin, topics.deadLetter)).toBe(sent.tooLate);

      const registry = app.kit.metrics;
      expect(await metric(registry, 'sdlab_adclick_ingest_clicks_total', { outcome: 'duplicate' })).toBe(
        sent.duplicates,
      );
      expect(await metric(registry, 'sdlab_adclick_ingest_rejected_total', { reason: 'bad_signature' })).toBe(
        sent.forged,
      );
      expect(await metric(registry, 'sdlab_adclick_ingest_rejected_total', { reason: 'malformed' })).toBe(
        sent.malformed,
      );
      const wm = worker.app.kit.metrics;
      expect(await metric(wm, 'sdlab_adclick_aggregator_events_total', { disposition: 'dead_letter' })).toBe(
        sent.tooLate,
      );
      expect(await metric(wm, 'sdlab_adclick_aggregator_dead_lettered_total', { reason: 'too_late' })).toBe(
        sent.tooLate,
      );
      expect(
        await metric(wm, 'sdlab_adclick_aggregator_events_total', { disposition: 'late_counted' }),
      ).toBeGreaterThanOrEqual(sent.lateCounted);

      // The query API reads the same numbers.
      const ad = ADS[0]!;
      const perMinute = await app.inject({
        headers: ADMIN,
        url: `/ads/${ad}/clicks?granularity=minute&from=${new Date(T0).toISOString()}&to=${new Date(T0 + 20 * MIN).toISOString()}`,
      });
      expect(perMinute.statusCode).toBe(200);
      const wanted = [...expected].filter(([k]) => k.startsWith(`${ad}|`));
      expect(
        perMinute
          .json()
          .buckets.map((b: { start: string; clicks: number }) => [`${ad}|${b.start}`, b.clicks]),
      ).toEqual(sorted(new Map(wanted)));
      const perDay = await app.inject({
        headers: ADMIN,
        url: `/ads/${ad}/clicks?granularity=day&from=${new Date(T0 - 12 * 60 * MIN).toISOString()}&to=${new Date(T0 + 12 * 60 * MIN).toISOString()}`,
      });
      expect(perDay.json().total).toBe(wanted.reduce((n, [, c]) => n + c, 0));

      const window = T0 + 2 * MIN;
      const inWindow = [...expected]
        .filter(([k]) => k.endsWith(`|${new Date(window).toISOString()}`))
        .map(([k, clicks]) => ({ adId: k.split('|')[0]!, clicks }))
        .sort((a, b) => b.clicks - a.clicks || (a.adId < b.adId ? 1 : -1))
        .slice(0, 3);
      const top = `/top?granularity=minute&k=3&window=${new Date(window + 5000).toISOString()}`;
      const seeded = (await app.inject({ url: top, headers: ADMIN })).json();
      expect(seeded).toMatchObject({ source: 'postgres', ads: inWindow });
      const cached = (await app.inject({ url: top, headers: ADMIN })).json();
      expect(cached).toMatchObject({ source: 'redis', ads: inWindow });

      console.info('ground truth observed', { ...sent, windows: expected.size, end });
    } finally {
      await worker.app.close();
      await app.close();
      spool.remove();
    }
  });
});
