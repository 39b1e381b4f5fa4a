import { ConfigError } from '@sdlab/service-kit';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { createAd } from './support/ads.ts';
import { startApi } from './support/app.ts';
import { ADMIN, bearer } from './support/auth.ts';
import { adClickEnv, createTopics, spooledEnv } from './support/env.ts';

const DAY = 86_400_000;
const dayOf = (t: number) => t - (t % DAY);
const partition = (day: number) =>
  `raw_clicks_${new Date(day).toISOString().slice(0, 10).replaceAll('-', '')}`;

describe('ad click aggregator: secure by default, nothing valid destroyed', () => {
  test('registering ads, signing impressions, stats and reconciliations need a token with the right scope', async ({
    pg,
    redis,
    kafka,
  }) => {
    const api = await startApi({ pg, redis, kafka }, 1);
    const { app } = api;
    try {
      const evil = { adId: 'evil', campaignId: 'c', targetUrl: 'https://phishing.example.net/' };
      const anonymous = await app.inject({ method: 'POST', url: '/ads', payload: evil });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.headers['www-authenticate']).toBe('Bearer');
      expect(anonymous.json()).toMatchObject({ code: 'SDLAB_AUTH_UNAUTHENTICATED' });
      const viewer = await bearer(['read']);
      expect(
        (await app.inject({ method: 'POST', url: '/ads', headers: viewer, payload: evil })).statusCode,
      ).toBe(403);
      // No ad was registered, so nothing can be signed or redirected to it.
      expect((await pg.pool.query('SELECT 1 FROM adclick.ads')).rowCount).toBe(0);

      const advertiser = await bearer(['advertiser'], 'acme');
      const ok = { adId: 'ad-1', campaignId: 'c', targetUrl: 'https://shop.example.com/' };
      expect(
        (await app.inject({ method: 'POST', url: '/ads', headers: advertiser, payload: ok })).statusCode,
      ).toBe(201);
      const now = new Date().toISOString();
      const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
      for (const url of [
        '/ads/ad-1',
        `/ads/ad-1/clicks?from=${hourAgo}&to=${now}`,
        `/top?window=${hourAgo}`,
      ]) {
        expect((await app.inject({ url })).statusCode, url).toBe(401);
        expect((await app.inject({ url, headers: advertiser })).statusCode, url).toBe(200);
      }
      expect(
        (await app.inject({ method: 'POST', url: '/ads/ad-1/impressions', payload: {} })).statusCode,
      ).toBe(401);
      const period = { from: hourAgo, to: now };
      expect(
        (await app.inject({ method: 'POST', url: '/reconciliations', payload: period })).statusCode,
      ).toBe(401);
      expect(
        (await app.inject({ method: 'POST', url: '/reconciliations', headers: advertiser, payload: period }))
          .statusCode,
      ).toBe(403);
    } finally {
      await api.close();
    }
  });

  test('a period whose raw clicks are gone cannot be reconciled: stored counts stay', async ({
    pg,
    redis,
    kafka,
  }) => {
    const api = await startApi({ pg, redis, kafka }, 1, { RECONCILE_QUEUE_MAX: '1' });
    const { app } = api;
    try {
      const today = dayOf(Date.now());
      const old = today - 40 * DAY; // past the 35-day raw retention: its partition was dropped
      const yesterday = today - DAY;
      // Raw partitions exist from yesterday on; yesterday's holds no rows (e.g. truncated).
      for (const day of [yesterday, today]) {
        await pg.pool.query(
          `CREATE TABLE adclick.${partition(day)} PARTITION OF adclick.raw_clicks FOR VALUES FROM ('${new Date(day).toISOString()}') TO ('${new Date(day + DAY).toISOString()}')`,
        );
      }
      await pg.pool.query(
        `INSERT INTO adclick.raw_clicks (impression_id, clicked_at, ad_id, campaign_id, late, dedup, kafka_partition, kafka_offset)
         VALUES ('imp-1', $1, 'ad-1', 'c', false, 'redis', 0, 0)`,
        [new Date(today + 60_000).toISOString()],
      );
      for (const day of [old, yesterday]) {
        for (const table of ['clicks_minute', 'clicks_hour', 'clicks_day']) {
          await pg.pool.query(
            `INSERT INTO adclick.${table} (ad_id, window_start, clicks) VALUES ('ad-1', $1, 1234)`,
            [new Date(day).toISOString()],
          );
        }
      }
      const reconcile = (from: number, to: number) =>
        app.inject({
          method: 'POST',
          url: '/reconciliations',
          headers: ADMIN,
          payload: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        });

      const tooOld = await reconcile(old, old + DAY);
      expect(tooOld.statusCode).toBe(422);
      expect(tooOld.json()).toMatchObject({ code: 'SDLAB_ADCLICK_CANNOT_RECONCILE' });
      const noRaw = await reconcile(yesterday, yesterday + DAY);
      expect(noRaw.statusCode).toBe(422);
      expect(noRaw.json().detail).toContain('no raw clicks');
      const { rows } = await pg.pool.query('SELECT sum(clicks)::int AS n FROM adclick.clicks_day');
      expect(rows[0].n).toBe(2468);

      // Full scans queue up to RECONCILE_QUEUE_MAX (1 here; no worker runs in this test).
      expect((await reconcile(today, today + 3_600_000)).statusCode).toBe(202);
      const busy = await reconcile(today, today + 3_600_000);
      expect(busy.statusCode).toBe(429);
      expect(busy.json()).toMatchObject({ code: 'SDLAB_ADCLICK_RECONCILE_BUSY' });
      expect(busy.headers['retry-after']).toBe('60');
    } finally {
      await app.reconcileQueue.obliterate({ force: true }).catch(() => undefined);
      await api.close();
    }
  });

  test('at most RECONCILE_QUEUE_MAX reconciliations queue, however many requests race on two instances', async ({
    pg,
    redis,
    kafka,
  }) => {
    const a = await startApi({ pg, redis, kafka }, 1, { RECONCILE_QUEUE_MAX: '3' });
    const b = await startApi({ pg, redis, kafka }, 1, { RECONCILE_QUEUE_MAX: '3' });
    try {
      const today = dayOf(Date.now());
      await pg.pool.query(
        `CREATE TABLE adclick.${partition(today)} PARTITION OF adclick.raw_clicks FOR VALUES FROM ('${new Date(today).toISOString()}') TO ('${new Date(today + DAY).toISOString()}')`,
      );
      const payload = { from: new Date(today).toISOString(), to: new Date(today + 3_600_000).toISOString() };
      // No worker runs here: every accepted job stays queued.
      const answers = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          (i % 2 ? a : b).app.inject({ method: 'POST', url: '/reconciliations', headers: ADMIN, payload }),
        ),
      );
      const codes = answers.map((r) => r.statusCode).sort();
      expect(codes).toEqual([...Array(3).fill(202), ...Array(13).fill(429)]);
      const counts = await a.app.reconcileQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      expect(Object.values(counts).reduce((n, c) => n + c, 0)).toBe(3);
    } finally {
      await a.app.reconcileQueue.obliterate({ force: true }).catch(() => undefined);
      await a.close();
      await b.close();
    }
  });

  test('first click per impression holds for its whole life; a shorter dedup window is refused', async ({
    pg,
    redis,
    kafka,
  }) => {
    const { env, spool } = await spooledEnv({ pg, redis, kafka }, 1);
    await expect(buildApp({ ...env, DEDUP_TTL_S: '3600' })).rejects.toThrow(
      /DEDUP_TTL_S \(3600\) must cover/,
    );
    const { app } = await buildApp(env);
    try {
      const ad = { adId: 'ad-1', campaignId: 'c', targetUrl: 'https://shop.example.com/' };
      await createAd(app, ad);
      const signed = await app.inject({
        method: 'POST',
        url: '/ads/ad-1/impressions',
        headers: ADMIN,
        payload: {},
      });
      const [impression] = signed.json().impressions as { id: string; clickUrl: string }[];
      expect((await app.inject(impression!.clickUrl)).headers['x-click-outcome']).toBe('recorded');
      expect((await app.inject(impression!.clickUrl)).headers['x-click-outcome']).toBe('duplicate');
      // The mark lives as long as the impression can be clicked (7 days + 300 s skew by default).
      const ttl = await redis.client.ttl(app.keys.dedup(impression!.id));
      expect(ttl).toBeGreaterThan(7 * 86_400);
    } finally {
      await app.close();
      spool.remove();
    }
  });

  test('NODE_ENV=production refuses the public impression key, the dev JWT key and a forced signer', async ({
    pg,
    redis,
    kafka,
  }) => {
    const topics = await createTopics(kafka, 1);
    const env = adClickEnv({ pg, redis, kafka }, topics, { NODE_ENV: 'production', ADMIN_PORT: '0' });
    const refused = await buildApp(env).catch((e: ConfigError) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    const problems = (refused as ConfigError).problems.join('\n');
    expect(problems).toContain('IMPRESSION_KEY is its committed development default');
    expect(problems).toContain('JWT_SECRET is its committed development default');
    await expect(
      buildApp({
        ...env,
        IMPRESSION_KEY: 'a-real-secret-key-0123456789',
        JWT_SECRET: 'a-real-jwt-key-of-this-deployment-0123456',
        IMPRESSION_SIGNER: 'on',
      }),
    ).rejects.toThrow(/IMPRESSION_SIGNER=on/);
  });
});
