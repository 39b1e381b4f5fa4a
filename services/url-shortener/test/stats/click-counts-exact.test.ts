import { describe, expect } from 'vitest';
import { applyClickBatch } from '../../src/domain/stats-repository.ts';
import { test } from '../support/fixtures.ts';

const json = { 'content-type': 'application/json' };

describe('click counting through Kafka', () => {
  test('stats equal the redirects made, once the batches are applied', async ({ apps, env, pg }) => {
    const api = await apps.api({ ...env, CLICK_FLUSH_MS: '20' });
    const worker = await apps.worker({ ...env, STATS_MAX_WAIT_MS: '200' });
    const { app } = api;
    const create = async (url: string) =>
      (await app.inject({ method: 'POST', url: '/api/links', headers: json, payload: { url } })).json()
        .code as string;
    const plan = [
      { code: await create('https://example.com/popular'), redirects: 300, visitors: 7 },
      { code: await create('https://example.com/niche'), redirects: 12, visitors: 3 },
      { code: await create('https://example.com/unvisited'), redirects: 0, visitors: 0 },
    ];
    // Concurrent redirects from several visitors (user agents), interleaved across links.
    await Promise.all(
      plan.flatMap(({ code, redirects, visitors }) =>
        Array.from({ length: redirects }, (_, i) =>
          app
            .inject({ method: 'GET', url: `/${code}`, headers: { 'user-agent': `visitor-${i % visitors}` } })
            .then((r) => expect(r.statusCode).toBe(302)),
        ),
      ),
    );

    for (const { code, redirects, visitors } of plan) {
      await expect
        .poll(
          async () =>
            (await app.inject({ method: 'GET', url: `/api/links/${code}/stats` })).json().totalClicks,
          {
            timeout: 30_000,
            interval: 200,
          },
        )
        .toBe(redirects);
      const stats = (await app.inject({ method: 'GET', url: `/api/links/${code}/stats` })).json();
      expect(stats).toMatchObject({ code, totalClicks: redirects, uniqueVisitors: visitors });
      if (redirects > 0) expect(Date.parse(stats.lastClickAt)).toBeGreaterThan(Date.now() - 60_000);
      else expect(stats.lastClickAt).toBeNull();
    }
    // Batched: far fewer row writes than redirects (at most one per link per batch).
    const metrics = (await worker.app.inject({ method: 'GET', url: '/metrics' })).body;
    const updates = Number(metrics.match(/sdlab_shortener_stats_link_updates_total\{[^}]*\} (\d+)/)?.[1]);
    const applied = Number(
      metrics.match(/sdlab_shortener_stats_events_total\{[^}]*outcome="applied"[^}]*\} (\d+)/)?.[1],
    );
    const duplicates = Number(
      metrics.match(/sdlab_shortener_stats_events_total\{[^}]*outcome="duplicate"[^}]*\} (\d+)/)?.[1] ?? 0,
    );
    console.info(`clicks: 312 redirects → ${applied} events applied with ${updates} per-link row writes`);
    expect(applied).toBe(312);
    // Each event is fetched once: nothing was read again and skipped as already counted.
    expect(duplicates).toBe(0);
    expect(updates).toBeLessThan(312);
    const { rows } = await pg.pool.query('SELECT sum(total_clicks)::int AS n FROM shortener.link_stats');
    expect(rows[0].n).toBe(312);
  });

  test('a batch delivered twice (a crash before the Kafka commit) is counted once', async ({
    apps,
    env,
    pg,
  }) => {
    const { app } = await apps.api(env);
    const code = (
      await app.inject({
        method: 'POST',
        url: '/api/links',
        headers: json,
        payload: { url: 'https://example.com/x' },
      })
    ).json().code as string;
    const events = Array.from({ length: 10 }, (_, i) => ({
      offset: String(100 + i),
      event: { code, at: Date.now(), visitor: `v${i}` },
    }));
    const first = await applyClickBatch(pg.pool, 'replay-topic', 0, events);
    // Redelivery overlapping the first batch, plus three new events.
    const extra = [10, 11, 12].map((i) => ({
      offset: String(100 + i),
      event: { code, at: Date.now(), visitor: 'v' },
    }));
    const second = await applyClickBatch(pg.pool, 'replay-topic', 0, [...events.slice(5), ...extra]);
    expect(first).toEqual({ applied: 10, duplicates: 0, linksUpdated: 1 });
    expect(second).toEqual({ applied: 3, duplicates: 5, linksUpdated: 1 });
    const stats = (await app.inject({ method: 'GET', url: `/api/links/${code}/stats` })).json();
    expect(stats.totalClicks).toBe(13);
  });
});
