import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { defineScripts, getWithTtl, SCRIPT_NAMES } from '../../src/scripts/index.ts';
import { test } from '../support/fixtures.ts';

describe('Lua scripts (real Redis)', () => {
  test('every script in src/scripts is loaded and runs', async ({ redis }) => {
    expect(SCRIPT_NAMES).toEqual(['getWithTtl-1']);
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
    } finally {
      client.disconnect();
    }
  });
});
