import { startPrivateRedis, test } from '@sdlab/testkit';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { ScriptCode } from '../src/scripts/error-codes.ts';
import { readScripts, runScript, SCRIPT_NAMES, type ScriptReply } from '../src/scripts/loader.ts';

// Every Lua script, run on a real Redis through the loader the limiter uses.
const ARGS = {
  tokenBucket: [10, 0.001], // capacity 10, refill 1 token per 1000 s: none comes back during the test
  fixedWindow: [10, 3_600_000],
  slidingCounter: [10, 3_600_000],
  slidingLog: [10, 3_600_000],
} as const;

describe('Lua scripts', () => {
  test('each file opens with a header naming its KEYS, ARGV and reply', () => {
    const scripts = readScripts();
    expect(scripts.map((s) => s.name).sort()).toEqual([...SCRIPT_NAMES].sort());
    for (const { lua, keys } of scripts) {
      const header = lua.slice(0, lua.indexOf(']]'));
      for (let k = 1; k <= keys; k += 1) expect(header).toContain(`KEYS[${k}]`);
      for (let a = 1; a <= 5; a += 1) expect(header).toContain(`ARGV[${a}]`);
      expect(header).toContain('Reply');
    }
  });

  for (const name of SCRIPT_NAMES) {
    test(`${name}: 15 concurrent calls against a limit of 10 admit exactly 10`, async ({ redis }) => {
      const [limit, rate] = ARGS[name];
      const replies = (await Promise.all(
        Array.from({ length: 15 }, (_, i) =>
          runScript(redis.client, name, redis.key(name), limit, rate, 1, 0, `r${i}`),
        ),
      )) as ScriptReply[];
      const allowed = replies.filter((r) => Array.isArray(r) && r[0] === 1);
      expect(allowed).toHaveLength(10);
      const remaining = allowed.map((r) => (r as number[])[1]!).sort((a, b) => a - b);
      expect(remaining).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const denied = replies.find((r) => Array.isArray(r) && r[0] === 0) as number[];
      expect(denied[3]).toBeGreaterThan(0); // a retry-after on every denial
    });

    test(`${name}: returns small negative codes for impossible requests`, async ({ redis }) => {
      const [limit, rate] = ARGS[name];
      expect(await runScript(redis.client, name, redis.key(name), limit, rate, 11, 0, 'x')).toBe(
        ScriptCode.CostExceedsLimit,
      );
      expect(await runScript(redis.client, name, redis.key(name), limit, rate, -1, 0, 'x')).toBe(
        ScriptCode.BadArgument,
      );
      // force = 1 counts past the limit (local-cache commits): allowed, nothing left.
      const forced = (await runScript(
        redis.client,
        name,
        redis.key(name),
        limit,
        rate,
        11,
        1,
        'x',
      )) as number[];
      expect(forced.slice(0, 2)).toEqual([1, 0]);
    });
  }

  test('token bucket keeps Redis server time, not the caller clock', async ({ redis }) => {
    await runScript(redis.client, 'tokenBucket', redis.key('tb'), 100, 10, 1, 0, '-');
    const [seconds, micros] = await redis.client.time();
    const serverMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const stored = Number(await redis.client.hget(redis.key('tb'), 'ts'));
    expect(serverMs - stored).toBeGreaterThanOrEqual(0);
    expect(serverMs - stored).toBeLessThan(1000);
    // The key lives until the bucket would be full again: 1 token at 10/s = 100 ms.
    expect(await redis.client.pttl(redis.key('tb'))).toBeLessThanOrEqual(100);
  });

  test('scripts run by SHA and survive a Redis restart that empties the script cache', async () => {
    const server = await startPrivateRedis();
    const client = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    client.on('error', () => undefined); // refused connections while it is down are the point
    try {
      await runScript(client, 'fixedWindow', 'k', 5, 60_000, 1, 0, '-');
      const sha = (await client.script(
        'LOAD',
        readScripts().find((s) => s.name === 'fixedWindow')!.lua,
      )) as string;
      expect(await client.script('EXISTS', sha)).toEqual([1]);
      await server.kill();
      await server.start();
      await expect.poll(() => client.ping().catch(() => 'down'), { timeout: 5000 }).toBe('PONG');
      expect(await client.script('EXISTS', sha)).toEqual([0]);
      const reply = (await runScript(client, 'fixedWindow', 'k', 5, 60_000, 1, 0, '-')) as number[];
      expect(reply.slice(0, 2)).toEqual([1, 4]); // NOSCRIPT was answered by resending the source
    } finally {
      client.disconnect();
      await server.dispose();
    }
  });
});
