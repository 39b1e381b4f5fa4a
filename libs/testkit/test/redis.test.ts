import { describe, expect } from 'vitest';
import { test } from '../src/index.ts';

describe('Redis (real server, ioredis client)', () => {
  test('runs a Lua script atomically, loaded once and called by hash', async ({ redis }) => {
    // Take `cost` tokens only if that many are left: the check and the write cannot interleave.
    const script = `
      local left = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
      local cost = tonumber(ARGV[2])
      if left < cost then return -1 end
      redis.call('SET', KEYS[1], left - cost)
      return left - cost`;
    const sha = (await redis.client.script('LOAD', script)) as string;
    const key = redis.key('bucket');
    const results = await Promise.all(
      Array.from({ length: 15 }, () => redis.client.evalsha(sha, 1, key, '10', '1') as Promise<number>),
    );
    expect(results.filter((r) => r >= 0)).toHaveLength(10);
    expect(results.filter((r) => r === -1)).toHaveLength(5);
    expect(await redis.client.get(key)).toBe('0');
  });
});
