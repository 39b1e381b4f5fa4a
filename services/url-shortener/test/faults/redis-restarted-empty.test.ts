import { startPrivateRedis } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { test } from '../support/fixtures.ts';

const json = { 'content-type': 'application/json' };

describe('Redis restarted empty', () => {
  test('creates after the restart get fresh codes: no collision, no 503, every code once in the links table', async ({
    apps,
    env,
    pg,
  }) => {
    // A private server: restarting the shared one would empty it under every suite running beside this one.
    const server = await startPrivateRedis();
    try {
      // Blocks of 10 so the block in hand runs out a few creates after the restart.
      const { app } = await apps.api({ ...env, REDIS_URL: server.url, ID_BLOCK_SIZE: '10' });
      const create = (i: number) =>
        app.inject({
          method: 'POST',
          url: '/api/links',
          headers: json,
          payload: { url: `https://example.com/${i}` },
        });
      const before = [];
      for (let i = 0; i < 25; i++) before.push(await create(i));
      expect(before.map((r) => r.statusCode)).toEqual(Array(25).fill(201));

      await server.kill();
      await server.start(); // no persistence: the ID counter starts again from nothing
      await expect
        .poll(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode, {
          timeout: 15_000,
        })
        .toBe(200);

      // Ten blocks' worth: without the high-water mark these would take counter values 0, 1, …
      // again, whose codes are taken, and fail after five collisions each.
      const after = [];
      for (let i = 25; i < 125; i++) after.push(await create(i));
      expect(after.map((r) => r.statusCode)).toEqual(Array(100).fill(201));

      const codes = [...before, ...after].map((r) => r.json().code as string);
      const { rows } = await pg.pool.query<{ total: number; distinct: number }>(
        'SELECT count(*)::int AS total, count(DISTINCT code)::int AS distinct FROM shortener.links',
      );
      expect(rows[0]).toEqual({ total: 125, distinct: 125 });
      expect(new Set(codes).size).toBe(125);
      const metrics = app.shortener.metrics;
      // No generated code was ever offered twice (a collision would mean a reused counter value).
      expect((await metrics.codeCollisions.get()).values[0]?.value ?? 0).toBe(0);
      expect((await metrics.idCounterReseeds.get()).values[0]?.value).toBe(1);
      console.info(
        `redis restarted empty: ${before.length} creates before, ${after.length} after, all 201; ${rows[0]!.distinct} distinct codes stored; 0 collisions; 1 reseed`,
      );
    } finally {
      await apps.close();
      await server.dispose();
    }
  });
});
