import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import {
  addVisitors,
  defineScripts,
  getWithTtl,
  reseedIdCounter,
  reserveIdBlock,
  SCRIPT_NAMES,
} from '../../src/scripts/index.ts';
import { test } from '../support/fixtures.ts';

describe('Lua scripts (real Redis)', () => {
  test('every script in src/scripts is loaded and runs', async ({ redis }) => {
    expect(SCRIPT_NAMES).toEqual(['addVisitors-N', 'getWithTtl-1', 'reseedIdCounter-1', 'reserveIdBlock-1']);
    const client = new Redis(redis.url);
    try {
      defineScripts(client);
      const key = redis.key('link:abc');
      expect(await getWithTtl(client, key)).toEqual({ value: null, pttl: -2 });
      await client.set(key, 'v', 'EX', 100);
      const hit = await getWithTtl(client, key);
      expect(hit.value).toBe('v');
      expect(hit.pttl).toBeGreaterThan(99_000);
      await client.persist(key);
      expect(await getWithTtl(client, key)).toEqual({ value: 'v', pttl: -1 });

      const counter = redis.key('ids:counter');
      // A missing counter reads as 0: fine for a floor of 0, behind any floor above it.
      expect(await reserveIdBlock(client, counter, 10, 0)).toBe(10);
      expect(await reserveIdBlock(client, counter, 10, 10)).toBe(20);
      expect(await reserveIdBlock(client, counter, 10, 21)).toBeUndefined();
      expect(await client.get(counter)).toBe('20'); // refused: untouched
      await client.del(counter);
      expect(await reserveIdBlock(client, counter, 10, 1)).toBeUndefined();
      expect(await client.exists(counter)).toBe(0);

      // Reseed: raised to the floor when missing or below, left alone when at or past it.
      expect(await reseedIdCounter(client, counter, 10, 500)).toEqual({ end: 510, before: null });
      expect(await reseedIdCounter(client, counter, 10, 500)).toEqual({ end: 520, before: 510 });
      await client.set(counter, 7);
      expect(await reseedIdCounter(client, counter, 10, 520)).toEqual({ end: 530, before: 7 });
    } finally {
      client.disconnect();
    }
  });

  test('addVisitors: the visitors of every link reach its HyperLogLog, over many keys and long id lists', async ({
    redis,
  }) => {
    const client = new Redis(redis.url);
    try {
      defineScripts(client);
      const many = redis.key('visitors:many');
      const few = redis.key('visitors:few');
      const none = redis.key('visitors:none');
      // 2,500 ids need three PFADD slices; 600 one-visitor links need two script calls.
      const singles = Array.from({ length: 600 }, (_, i) => redis.key(`visitors:single-${i}`));
      const batch = new Map<string, Iterable<string>>([
        [many, Array.from({ length: 2500 }, (_, i) => `v${i}`)],
        [few, ['a', 'b', 'a']],
        [none, []],
        ...singles.map((key, i): [string, string[]] => [key, [`s${i}`]]),
      ]);
      await addVisitors(client, batch);
      expect(Math.abs((await client.pfcount(many)) - 2500)).toBeLessThan(50);
      expect(await client.pfcount(few)).toBe(2);
      expect(await client.exists(none)).toBe(0);
      const counts = await Promise.all(singles.map((key) => client.pfcount(key)));
      expect(counts.every((count) => count === 1)).toBe(true);
      // Idempotent, as a replayed batch needs: the same visitors again change nothing.
      await addVisitors(client, batch);
      expect(await client.pfcount(few)).toBe(2);
    } finally {
      client.disconnect();
    }
  });
});
