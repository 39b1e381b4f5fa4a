import { describe, expect } from 'vitest';
import { test } from '../support/fixtures.ts';

async function insertLink(
  pool: { query: (sql: string, values: unknown[]) => Promise<unknown> },
  code: string,
  url: string,
) {
  // Written straight to Postgres, so the code is cold in every cache layer.
  await pool.query(
    'INSERT INTO shortener.links (code, long_url, is_alias, created_at) VALUES ($1, $2, false, now())',
    [code, url],
  );
}

describe('stampede protection', () => {
  test('200 concurrent redirects of one cold code read Postgres at most once per instance', async ({
    apps,
    env,
    pg,
  }) => {
    // Two instances sharing Postgres and Redis, each with its own LRU and single-flight.
    const a = await apps.api(env);
    const b = await apps.api(env);
    await insertLink(pg.pool, 'coldCode', 'https://example.com/viral');
    const before = { a: a.app.shortener.links.reads, b: b.app.shortener.links.reads };

    const hammer = (service: typeof a) =>
      Array.from({ length: 200 }, () => service.app.inject({ method: 'GET', url: '/coldCode' }));
    const responses = await Promise.all([...hammer(a), ...hammer(b)]);

    expect(responses.map((r) => r.statusCode)).toEqual(Array(400).fill(302));
    expect(new Set(responses.map((r) => r.headers.location))).toEqual(new Set(['https://example.com/viral']));
    const reads = { a: a.app.shortener.links.reads - before.a, b: b.app.shortener.links.reads - before.b };
    console.info(
      `postgres reads for 2 x 200 concurrent redirects of one cold code: ${JSON.stringify(reads)}`,
    );
    expect(reads.a).toBeLessThanOrEqual(1);
    expect(reads.b).toBeLessThanOrEqual(1);
    expect(reads.a + reads.b).toBeGreaterThanOrEqual(1);
    // The same count as Prometheus sees it.
    const metrics = await a.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(
      new RegExp(`sdlab_shortener_db_reads_total\\{service="url-shortener"\\} ${reads.a}\\n`),
    );
    expect(metrics.body).toMatch(
      /sdlab_shortener_singleflight_joined_total\{service="url-shortener"\} 199\n/,
    );
  });

  test('a scan of unknown codes reaches Postgres once per code, then stops at the negative cache', async ({
    apps,
    env,
  }) => {
    const { app } = await apps.api(env);
    const codes = Array.from({ length: 50 }, (_, i) => `scan${String(i).padStart(3, '0')}`);
    for (let round = 0; round < 3; round++) {
      const responses = await Promise.all(
        codes.map((code) => app.inject({ method: 'GET', url: `/${code}` })),
      );
      expect(responses.every((r) => r.statusCode === 404)).toBe(true);
    }
    expect(app.shortener.links.reads).toBe(50);
  });

  test('a hot entry near the end of its Redis TTL is refreshed before it expires', async ({
    apps,
    env,
    pg,
    redis,
  }) => {
    // LRU entries live 1 ms here, so every redirect reaches Redis and sees the entry's TTL.
    const { app } = await apps.api({ ...env, LRU_TTL_MS: '1' });
    await insertLink(pg.pool, 'hotCode1', 'https://example.com/hot');
    expect((await app.inject({ method: 'GET', url: '/hotCode1' })).statusCode).toBe(302);
    const key = `${redis.prefix}link:hotCode1`;
    const fullTtl = await redis.client.pttl(key);
    expect(fullTtl).toBeGreaterThan(1500 * 1000);
    // Age the entry into the last 10 % of its life (REDIS_TTL_S 1800 → refresh below 180 s).
    await redis.client.pexpire(key, 60_000);
    const readsBefore = app.shortener.links.reads;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await app.inject({ method: 'GET', url: '/hotCode1' })).statusCode).toBe(302);
    await expect.poll(() => redis.client.pttl(key)).toBeGreaterThan(1500 * 1000);
    expect(app.shortener.links.reads).toBe(readsBefore + 1);
    // The refresh lock keeps the next hits (from this or any instance) from refreshing again.
    expect(await redis.client.exists(`${redis.prefix}lock:refresh:hotCode1`)).toBe(1);
  });
});
