import { startPrivateRedis } from '@sdlab/testkit';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect } from 'vitest';
import type { IdAllocator } from '../../src/domain/id-allocator.ts';
import { test } from '../support/fixtures.ts';
import { highWaterMark, idAllocator, migrateShortener, take } from '../support/ids.ts';

// Two allocators are two service instances: each has its own blocks, floor and metrics, and they
// share the Redis counter and the Postgres high-water mark. Blocks of 10 values, so a few hundred
// values cross many refills (and reseeds) after the fault.

type Instance = ReturnType<typeof idAllocator>;

/** Both instances taking values at once, as concurrent creates on two processes would. */
async function takeFromBoth(a: IdAllocator, b: IdAllocator, each: number): Promise<number[]> {
  return (await Promise.all([take(a, each), take(b, each)])).flat();
}

function duplicates(values: number[]): number[] {
  const seen = new Set<number>();
  return values.filter((v) => seen.has(v) || !seen.add(v));
}

async function total(instances: Instance[], metric: 'idCounterReseeds' | 'idBlocksRefused'): Promise<number> {
  const values = await Promise.all(instances.map(async (i) => (await i.metrics[metric].get()).values));
  return values.flat().reduce((sum, v) => sum + v.value, 0);
}

describe('ID counter lost by Redis: no value handed out twice', () => {
  test('Redis restarts empty under two instances with blocks in hand: every value stays distinct', async ({
    pg,
  }) => {
    await migrateShortener(pg.pool);
    const server = await startPrivateRedis();
    // One client per instance; they reconnect by themselves after the restart.
    const clients = [new Redis(server.url), new Redis(server.url)];
    for (const client of clients) client.on('error', () => undefined); // refused while Redis is down
    try {
      const key = 'ids:counter';
      const [a, b] = clients.map((client) =>
        idAllocator({ redis: client, pool: pg.pool, counterKey: key }),
      ) as [Instance, Instance];
      await a.ids.start();
      await b.ids.start();
      // Each takes half a block: a holds [0,10), b [10,20); no refill is under way.
      const before = [...(await take(a.ids, 5)), ...(await take(b.ids, 5))];
      const recorded = await highWaterMark(pg.pool);
      expect(recorded).toBe(20);

      await server.kill();
      await server.start(); // no persistence: the counter is gone
      expect(await clients[0]!.exists(key)).toBe(0);

      // 30 blocks' worth from each: the blocks in hand run out within the first few values.
      const after = await takeFromBoth(a.ids, b.ids, 300);
      const all = [...before, ...after];
      expect(duplicates(all)).toEqual([]);
      expect(all).toHaveLength(610);

      // The counter was raised to the mark once (whoever got there first; the other found it raised).
      expect(await total([a, b], 'idCounterReseeds')).toBe(1);
      expect([...a.warnings, ...b.warnings]).toEqual([
        expect.objectContaining({ counterKey: key, before: null, after: recorded }),
      ]);
      // After the restart, values come from the halves of blocks in hand or from past the mark.
      const inHand = (v: number) => (v >= 5 && v < 10) || (v >= 15 && v < 20);
      expect(after.filter((v) => !inHand(v) && v < recorded)).toEqual([]);
      const counter = Number(await clients[0]!.get(key));
      const mark = await highWaterMark(pg.pool);
      expect(counter).toBeGreaterThanOrEqual(mark);
      expect(mark).toBeGreaterThan(Math.max(...all));
      console.info(
        `redis restarted empty: ${all.length} values from 2 instances, 0 duplicates; mark ${recorded} before, counter ${counter} / mark ${mark} after; blocks refused ${await total([a, b], 'idBlocksRefused')}`,
      );
    } finally {
      for (const client of clients) client.disconnect();
      await server.dispose();
    }
  });

  test('an upgraded deployment: start-up raises the mark to the counter Redis holds, so losing it later reuses nothing', async ({
    pg,
    redis,
  }) => {
    await migrateShortener(pg.pool); // the mark starts at 0
    const key = redis.key('ids:counter');
    // Values below it were handed out by the version without the mark.
    await redis.client.set(key, 12_345);
    const a = idAllocator({ redis: redis.client, pool: pg.pool, counterKey: key });
    await a.ids.start();
    expect(await highWaterMark(pg.pool)).toBe(12_345);

    await redis.client.del(key);
    const values = await take(a.ids, 25);
    expect(Math.min(...values)).toBe(12_345);
    expect(a.warnings).toEqual([expect.objectContaining({ before: null, after: 12_345 })]);
  });

  // A replica that lagged has the counter as it was some reservations ago. "Lost the last
  // reservation" is the usual case (replication lag of milliseconds): the instance that made it
  // is past the stale value, the other one is not and would take that very block again.
  for (const [name, staleBy, reseeds] of [
    ['the last reservation', 1, 0],
    ['the last three reservations', 3, 1],
  ] as const) {
    test(`a lagging replica takes over, having lost ${name}: every value stays distinct`, async ({
      pg,
      redis,
    }) => {
      await migrateShortener(pg.pool);
      const key = redis.key('ids:counter');
      const [a, b] = [0, 1].map(() =>
        idAllocator({ redis: redis.client, pool: pg.pool, counterKey: key }),
      ) as [Instance, Instance];
      await a.ids.start();
      await b.ids.start();
      // a [0,10), b [10,20), then a goes on to [20,30) (and [30,40), [40,50) for three).
      const before = [...(await take(a.ids, 1)), ...(await take(b.ids, 1))];
      before.push(...(await take(a.ids, 9 + 10 * (staleBy - 1))));
      const reached = 20 + 10 * staleBy;
      await expect.poll(() => highWaterMark(pg.pool)).toBe(reached);

      // The failover: the counter as it was before those reservations.
      await redis.client.set(key, 20);

      // b runs out of its block first: its next block from the stale counter is [20,30), which
      // a has recorded (and is handing out), so the mark refuses it.
      const after = await take(b.ids, 10);
      expect(await total([b], 'idBlocksRefused')).toBe(1);
      // Three lost reservations leave the counter below b's new floor too: it is raised to the mark.
      expect(await total([a, b], 'idCounterReseeds')).toBe(reseeds);
      if (reseeds) {
        expect(b.warnings).toEqual([expect.objectContaining({ before: 30, after: reached })]);
      }
      // Then both go on together, well past their blocks.
      after.push(...(await takeFromBoth(a.ids, b.ids, 200)));
      const all = [...before, ...after];
      expect(duplicates(all)).toEqual([]);
      expect(all).toHaveLength(before.length + 410);
      expect(Number(await redis.client.get(key))).toBeGreaterThanOrEqual(await highWaterMark(pg.pool));
      console.info(
        `replica lost ${name}: ${all.length} values from 2 instances, 0 duplicates; blocks refused ${await total([a, b], 'idBlocksRefused')}, reseeds ${await total([a, b], 'idCounterReseeds')}`,
      );
    });
  }

  test('a block reserved before Redis lost the counter, recorded after another instance reseeded it, is not handed out twice', async ({
    pg: db,
    redis,
  }) => {
    await migrateShortener(db.pool);
    const key = redis.key('ids:counter');
    const [a, b] = [0, 1].map(() => idAllocator({ redis: redis.client, pool: db.pool, counterKey: key })) as [
      Instance,
      Instance,
    ];
    await a.ids.start();
    await b.ids.start();
    const before = [...(await take(a.ids, 1)), ...(await take(b.ids, 1))]; // a [0,10), b [10,20)

    // Holding the mark's row lock stalls every instance's record of a new block (a slow Postgres
    // write), while reads of the mark still answer.
    const lock = new pg.Client({ connectionString: db.url });
    await lock.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('SELECT high FROM shortener.id_high_water FOR UPDATE');
      // a's background refill takes [20,30) from Redis and waits to record it.
      before.push(...(await take(a.ids, 8)));
      await expect.poll(() => redis.client.get(key)).toBe('30');
      // Redis loses the counter (the state an empty restart leaves for this key).
      await redis.client.del(key);
      // b's refill finds it missing, raises it to the mark (still 20) and takes [20,30) as well.
      before.push(...(await take(b.ids, 8)));
      await expect.poll(() => total([b], 'idCounterReseeds')).toBe(1);
      const waiting = () =>
        lock
          .query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            [db.database],
          )
          .then((r) => r.rows[0]!.n);
      await expect.poll(waiting).toBe(2);
      await lock.query('COMMIT');
    } finally {
      await lock.end();
    }
    // Whichever record came second found the other's end past its start: that block is skipped,
    // and its instance takes the next one.
    await expect.poll(() => Math.min(a.ids.remaining, b.ids.remaining)).toBeGreaterThan(10);
    expect(await total([a, b], 'idBlocksRefused')).toBe(1);

    const all = [...before, ...(await takeFromBoth(a.ids, b.ids, 100))];
    expect(duplicates(all)).toEqual([]);
    expect(all).toHaveLength(218);
    console.info(
      `block recorded after a reseed: ${all.length} values, 0 duplicates; blocks refused ${await total([a, b], 'idBlocksRefused')}`,
    );
  });
});
