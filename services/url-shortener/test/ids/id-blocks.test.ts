import { describe, expect } from 'vitest';
import type { createServiceMetrics } from '../../src/telemetry.ts';
import { test } from '../support/fixtures.ts';
import { highWaterMark, idAllocator, migrateShortener } from '../support/ids.ts';

async function refills(metrics: ReturnType<typeof createServiceMetrics>): Promise<Record<string, number>> {
  const { values } = await metrics.idBlockRefills.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.mode), v.value]));
}

describe('ID blocks (INCRBY on real Redis, recorded in real Postgres)', () => {
  test('takes a block up front, then the next one in the background when 20 % is left', async ({
    redis,
    pg,
  }) => {
    await migrateShortener(pg.pool);
    const key = redis.key('ids');
    const { ids, metrics } = idAllocator({ redis: redis.client, pool: pg.pool, counterKey: key });
    await ids.start();
    const first = [];
    for (let i = 0; i < 8; i++) first.push(await ids.next());
    expect(first).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // 2 of 10 left: the refill has started without anyone waiting for it.
    await expect.poll(() => redis.client.get(key)).toBe('20');
    await expect.poll(() => ids.remaining).toBe(12);
    // A block's end is recorded before its first value is used.
    expect(await highWaterMark(pg.pool)).toBe(20);
    const rest = [];
    for (let i = 0; i < 12; i++) rest.push(await ids.next());
    expect(rest).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    // Taking value 17 left 2 again, so a third block is on its way.
    await expect.poll(() => refills(metrics)).toEqual({ blocking: 1, background: 2 });
    expect(await redis.client.get(key)).toBe('30');
    expect(await highWaterMark(pg.pool)).toBe(30);
  });

  test('instances sharing the counter never hand out the same value', async ({ redis, pg }) => {
    await migrateShortener(pg.pool);
    const key = redis.key('ids');
    const instances = Array.from(
      { length: 3 },
      () => idAllocator({ redis: redis.client, pool: pg.pool, counterKey: key }).ids,
    );
    await Promise.all(instances.map((ids) => ids.start()));
    const values = await Promise.all(
      instances.flatMap((ids) => Array.from({ length: 500 }, () => ids.next())),
    );
    expect(new Set(values).size).toBe(1500);
  });

  test('a create waits on the refill already in flight instead of reserving another block', async ({
    redis,
    pg,
  }) => {
    await migrateShortener(pg.pool);
    const key = redis.key('ids');
    const { ids } = idAllocator({ redis: redis.client, pool: pg.pool, counterKey: key });
    await ids.start();
    const values = await Promise.all(Array.from({ length: 10 }, () => ids.next()));
    expect(values.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // One blocking INCRBY for all ten, then one background refill.
    await expect.poll(() => redis.client.get(key)).toBe('20');
  });
});
