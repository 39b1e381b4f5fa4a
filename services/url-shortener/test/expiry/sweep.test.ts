import { describe, expect } from 'vitest';
import { test } from '../support/fixtures.ts';

describe('expiry sweep (BullMQ repeatable job)', () => {
  test('deletes links past their retention, evicts them from Redis, and frees the alias', async ({
    apps,
    env,
    pg,
    redis,
  }) => {
    const { app } = await apps.api(env);
    await pg.pool.query(
      `INSERT INTO shortener.links (code, long_url, is_alias, created_at, expires_at) VALUES
         ('old-sale', 'https://example.com/old', true, now() - interval '2 days', now() - interval '1 day'),
         ('fresh-sale', 'https://example.com/fresh', true, now(), now() + interval '1 day'),
         ('forever', 'https://example.com/forever', true, now(), NULL)`,
    );
    await pg.pool.query(
      `INSERT INTO shortener.link_stats (code, total_clicks) VALUES ('old-sale', 5);
       INSERT INTO shortener.idempotency_keys (key, request_hash, response, expires_at)
         VALUES ('stale-key', 'h', '{}', now() - interval '1 second')`,
    );
    // Cache the expired link (410 from cache) and give it a visitor sketch.
    expect((await app.inject({ method: 'GET', url: '/old-sale' })).statusCode).toBe(410);
    await redis.client.pfadd(`${redis.prefix}visitors:old-sale`, 'v1');
    expect(await redis.client.exists(`${redis.prefix}link:old-sale`)).toBe(1);

    const worker = await apps.worker({ ...env, EXPIRY_SWEEP_EVERY_MS: '300', EXPIRED_RETENTION_S: '3600' });
    expect((await worker.expiry.queue.getJobSchedulers()).map((s) => s.key)).toEqual(['expire-links']);
    await expect
      .poll(
        async () => (await pg.pool.query("SELECT 1 FROM shortener.links WHERE code = 'old-sale'")).rowCount,
        {
          timeout: 20_000,
        },
      )
      .toBe(0);
    await expect.poll(() => redis.client.exists(`${redis.prefix}link:old-sale`)).toBe(0);
    expect(await redis.client.exists(`${redis.prefix}visitors:old-sale`)).toBe(0);
    const { rows } = await pg.pool.query('SELECT code FROM shortener.links ORDER BY code');
    expect(rows.map((r) => r.code)).toEqual(['forever', 'fresh-sale']);
    expect((await pg.pool.query("SELECT 1 FROM shortener.link_stats WHERE code = 'old-sale'")).rowCount).toBe(
      0,
    );
    await expect
      .poll(
        async () =>
          (await pg.pool.query("SELECT 1 FROM shortener.idempotency_keys WHERE key = 'stale-key'")).rowCount,
      )
      .toBe(0);

    // The alias is free again (this instance's LRU copy of the old entry is dropped on create).
    const reused = await app.inject({
      method: 'POST',
      url: '/api/links',
      headers: { 'content-type': 'application/json' },
      payload: { url: 'https://example.com/new-sale', alias: 'old-sale' },
    });
    expect(reused.statusCode).toBe(201);
    expect((await app.inject({ method: 'GET', url: '/old-sale' })).headers.location).toBe(
      'https://example.com/new-sale',
    );
  });
});
