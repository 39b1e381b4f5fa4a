import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { defineScripts, SCRIPT_NAMES, updateTopK } from '../src/scripts/index.ts';

describe('redis scripts', () => {
  test('every script is loaded; updateTopK only raises scores of a set that exists', async ({ redis }) => {
    expect(SCRIPT_NAMES).toEqual(['markFirstClicks-N', 'updateTopK-1']);
    defineScripts(redis.client);
    const key = redis.key('topk:minute:w');
    expect(await updateTopK(redis.client, key, 60, [{ adId: 'a', clicks: 5 }])).toBe(false);
    expect(await redis.client.exists(key)).toBe(0);

    await redis.client.zadd(key, 10, 'a', 3, 'b');
    expect(
      await updateTopK(redis.client, key, 60, [
        { adId: 'a', clicks: 7 },
        { adId: 'b', clicks: 4 },
        { adId: 'c', clicks: 1 },
      ]),
    ).toBe(true);
    expect(await redis.client.zrange(key, 0, -1, 'REV', 'WITHSCORES')).toEqual([
      'a',
      '10',
      'b',
      '4',
      'c',
      '1',
    ]);
    expect(await redis.client.ttl(key)).toBeGreaterThan(0);
  });
});
