import { startPrivatePostgres } from '@sdlab/testkit';
import pg from 'pg';
import { describe, expect } from 'vitest';
import { test } from '../support/fixtures.ts';

const json = { 'content-type': 'application/json' };

describe('Postgres stopped', () => {
  test('cached codes keep redirecting, /readyz is 503, creates are a clear 503, and nothing is half-written', async ({
    apps,
    env,
    redis,
  }) => {
    // A private server: stopping the shared one would break every suite running beside this one.
    const server = await startPrivatePostgres();
    try {
      // LRU entries last 200 ms, so the outage is served by the LRU and then by Redis.
      const { app } = await apps.api({
        ...env,
        DATABASE_URL: server.url,
        LRU_TTL_MS: '200',
        PG_CONNECT_TIMEOUT_MS: '1000',
      });
      const create = (payload: object, key?: string) =>
        app.inject({
          method: 'POST',
          url: '/api/links',
          headers: key ? { ...json, 'idempotency-key': key } : json,
          payload,
        });
      const cached: string[] = [];
      for (let i = 0; i < 3; i++) {
        const created = await create({ url: `https://example.com/cached/${i}` });
        expect(created.statusCode).toBe(201);
        cached.push(created.json().code);
        expect((await app.inject({ method: 'GET', url: `/${created.json().code}` })).statusCode).toBe(302);
      }
      // A link the caches do not hold: its create wrote Redis, so remove that entry.
      const uncached = (await create({ url: 'https://example.com/uncached' })).json().code as string;
      await redis.client.del(`${redis.prefix}link:${uncached}`);

      await server.kill();

      const redirectStatuses: number[] = [];
      for (const pause of [0, 300]) {
        await new Promise((resolve) => setTimeout(resolve, pause)); // 300 ms: past the LRU TTL → Redis
        for (const code of cached) {
          const response = await app.inject({ method: 'GET', url: `/${code}` });
          redirectStatuses.push(response.statusCode);
          expect(response.headers.location).toBe(`https://example.com/cached/${cached.indexOf(code)}`);
        }
      }
      expect(redirectStatuses).toEqual(Array(6).fill(302));

      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().detail).toMatch(/postgres/);

      const attempts = await Promise.all([
        create({ url: 'https://example.com/during-outage/plain' }),
        create({ url: 'https://example.com/during-outage/keyed' }, 'outage-key-1'),
        create({ url: 'https://example.com/during-outage/alias', alias: 'outage-alias' }, 'outage-key-2'),
      ]);
      for (const response of attempts) {
        expect(response.statusCode).toBe(503);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.headers['retry-after']).toBe('1');
        expect(response.json()).toMatchObject({
          code: 'SDLAB_SHORTENER_STORE_UNAVAILABLE',
          title: 'the link store (postgres) is unavailable; nothing was saved, retry shortly',
        });
      }
      const unknown = await app.inject({ method: 'GET', url: `/${uncached}` });
      expect(unknown.statusCode).toBe(503);
      console.info(
        `postgres down: ${redirectStatuses.length} cached redirects all 302; readyz ${ready.statusCode}; creates ${attempts.map((r) => r.statusCode).join(',')}; uncached redirect ${unknown.statusCode}`,
      );

      await server.start();
      await expect
        .poll(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode, {
          timeout: 15_000,
        })
        .toBe(200);

      // Nothing of the failed creates in Postgres or in the Redis cache.
      const check = new pg.Client({ connectionString: server.url });
      await check.connect();
      try {
        const links = await check.query(
          "SELECT code FROM shortener.links WHERE long_url LIKE 'https://example.com/during-outage/%'",
        );
        const keys = await check.query(
          "SELECT key FROM shortener.idempotency_keys WHERE key LIKE 'outage-key-%'",
        );
        expect(links.rows).toEqual([]);
        expect(keys.rows).toEqual([]);
      } finally {
        await check.end();
      }
      expect(await redis.client.exists(`${redis.prefix}link:outage-alias`)).toBe(0);

      // The retried creates now succeed as first creates, and a second retry replays.
      const retried = await create(
        { url: 'https://example.com/during-outage/alias', alias: 'outage-alias' },
        'outage-key-2',
      );
      expect(retried.statusCode).toBe(201);
      expect(retried.headers['idempotent-replayed']).toBeUndefined();
      const replayed = await create(
        { url: 'https://example.com/during-outage/alias', alias: 'outage-alias' },
        'outage-key-2',
      );
      expect(replayed.headers['idempotent-replayed']).toBe('true');
      expect((await app.inject({ method: 'GET', url: `/${uncached}` })).statusCode).toBe(302);
    } finally {
      await apps.close();
      await server.dispose();
    }
  });

  test('creates cut off mid-flight by a crash leave a link and its idempotency record together or not at all', async ({
    apps,
    env,
  }) => {
    const server = await startPrivatePostgres();
    try {
      const { app } = await apps.api({ ...env, DATABASE_URL: server.url, PG_CONNECT_TIMEOUT_MS: '1000' });
      const keys = Array.from({ length: 300 }, (_, i) => `crash-${i}`);
      let done = 0;
      const inFlight = keys.map((key, i) =>
        app
          .inject({
            method: 'POST',
            url: '/api/links',
            headers: { ...json, 'idempotency-key': key },
            payload: { url: `https://example.com/crash/${i}` },
          })
          .finally(() => done++),
      );
      // Crash once some creates have committed and the pool's connections are mid-transaction on
      // others; wherever it lands exactly, the assertions below must hold.
      await expect.poll(() => done, { interval: 1, timeout: 30_000 }).toBeGreaterThanOrEqual(50);
      await server.kill();
      const responses = await Promise.all(inFlight);
      await server.start();

      const statuses = responses.map((r) => r.statusCode);
      expect(statuses.every((s) => s === 201 || s === 503)).toBe(true);
      const check = new pg.Client({ connectionString: server.url });
      await check.connect();
      try {
        const { rows } = await check.query<{ key: string; link: string | null; stored: string }>(
          `SELECT k.key, l.code AS link, k.response->>'code' AS stored
             FROM shortener.idempotency_keys k LEFT JOIN shortener.links l ON l.code = k.response->>'code'
            WHERE k.key LIKE 'crash-%'`,
        );
        const links = await check.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM shortener.links WHERE long_url LIKE 'https://example.com/crash/%'",
        );
        // Every idempotency record has its link, and no link exists without its record.
        expect(rows.every((r) => r.link === r.stored)).toBe(true);
        expect(links.rows[0]!.n).toBe(rows.length);
        // Every 201 the client saw is stored.
        const stored = new Set(rows.map((r) => r.key));
        responses.forEach((r, i) => {
          if (r.statusCode === 201) expect(stored.has(keys[i]!)).toBe(true);
        });
        console.info(
          `crash mid-flight: ${statuses.filter((s) => s === 201).length} x 201, ${statuses.filter((s) => s === 503).length} x 503, ${rows.length} links stored, each with its idempotency record`,
        );
      } finally {
        await check.end();
      }
    } finally {
      await apps.close();
      await server.dispose();
    }
  });
});
