import { startPrivateRedis, test } from '@sdlab/testkit';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { RateLimiter } from '../src/limiter.ts';
import { parseRules } from '../src/rules.ts';
import { BATCH_SCRIPT } from '../src/scripts/batch.ts';

const ALGORITHMS = ['token-bucket', 'fixed-window', 'sliding-window-counter', 'sliding-window-log'] as const;
const rules = parseRules(
  ALGORITHMS.map((algorithm) =>
    algorithm === 'token-bucket'
      ? { name: algorithm, algorithm, capacity: 100, refillPerSec: 0.001 }
      : { name: algorithm, algorithm, limit: 100, windowMs: 3_600_000 },
  ),
);

describe('batched checks (one script run per batch)', () => {
  test('decide in request order exactly as single checks do, for every algorithm in one batch', async ({
    redis,
  }) => {
    const limiter = new RateLimiter({ redis: redis.client, rules, keys: redis.prefix });
    // 120 checks per algorithm on one key, interleaved: the first 100 of each are admitted.
    const requests = Array.from({ length: 480 }, (_, i) => ({ key: 'k', rule: ALGORITHMS[i % 4]!, cost: 1 }));
    const decisions = await limiter.checkMany(requests);
    for (const [n, algorithm] of ALGORITHMS.entries()) {
      const mine = decisions.filter((_, i) => i % 4 === n);
      expect(mine.map((d) => d.allowed)).toEqual(Array.from({ length: 120 }, (_, i) => i < 100));
      expect(mine.every((d) => d.source === 'redis' && d.policy === algorithm && d.limit === 100)).toBe(true);
      expect(mine[99]!.remaining).toBe(0);
      expect(mine[100]!.retryAfterMs).toBeGreaterThan(0);
    }
    // A single check afterwards sees the counts the batch left.
    expect((await limiter.check('k', 'fixed-window')).allowed).toBe(false);
    await limiter.close();
  });

  test('checks with differing costs and rules in one batch are each charged their own cost, in order', async ({
    redis,
  }) => {
    const limiter = new RateLimiter({ redis: redis.client, rules, keys: redis.prefix });
    // Runs of one rule and cost, then a change of cost, then of rule, then back: 30+30+30 fit the
    // limit of 100, the fourth 30 does not, 10 fills it, the last 10 is refused.
    const costs = [30, 30, 30, 30, 10, 10];
    const requests = ['fixed-window', 'token-bucket'].flatMap((rule) =>
      costs.map((cost) => ({ key: 'costs', rule, cost })),
    );
    const decisions = await limiter.checkMany(requests);
    for (const rule of ['fixed-window', 'token-bucket']) {
      const mine = decisions.filter((d) => d.policy === rule);
      expect(mine.map((d) => d.allowed)).toEqual([true, true, true, false, true, false]);
      expect(mine.map((d) => d.remaining)).toEqual([70, 40, 10, 10, 0, 0]);
    }
    await limiter.close();
  });

  test('admit exactly the limit per key across three instances batching at once, with the shipped defaults', async ({
    redis,
  }) => {
    const clients = Array.from({ length: 3 }, () => new Redis(redis.url));
    const limiters = clients.map((client) => new RateLimiter({ redis: client, rules, keys: redis.prefix }));
    try {
      const keys = Array.from({ length: 5 }, (_, i) => `user-${i}`);
      // 3 instances x 20 batches x 50 checks = 3,000 checks per algorithm, 600 per key, limit 100.
      const batches = limiters.flatMap((limiter) =>
        Array.from({ length: 20 }, (_, b) =>
          limiter.checkMany(
            Array.from({ length: 50 }, (_, i) => ({ key: keys[(b + i) % 5]!, rule: ALGORITHMS[i % 4]! })),
          ),
        ),
      );
      const decisions = (await Promise.all(batches)).flat();
      expect(decisions).toHaveLength(3000);
      expect(decisions.filter((d) => d.source !== 'redis')).toEqual([]);
      for (const algorithm of ALGORITHMS) {
        const admitted = decisions.filter((d) => d.policy === algorithm && d.allowed).length;
        expect(admitted, algorithm).toBe(5 * 100);
      }
    } finally {
      for (const limiter of limiters) await limiter.close();
      for (const client of clients) client.disconnect();
    }
  });

  test('single checks made at once are coalesced into batch runs and still admit exactly the limit across three instances', async ({
    redis,
  }) => {
    const clients = Array.from({ length: 3 }, () => new Redis(redis.url));
    const limiters = clients.map((client) => new RateLimiter({ redis: client, rules, keys: redis.prefix }));
    // Counts the script runs each client sends (the calls still go to Redis).
    let runs = 0;
    for (const client of clients) {
      const send = client.sendCommand.bind(client);
      client.sendCommand = ((...args: Parameters<typeof send>) => {
        if (args[0].name === 'evalsha' || args[0].name === 'eval') runs++;
        return send(...args);
      }) as typeof client.sendCommand;
    }
    try {
      // 3 instances x 600 single checks at once = 1,800 per algorithm on one key, limit 100.
      const decisions = await Promise.all(
        limiters.flatMap((limiter) =>
          Array.from({ length: 600 }, (_, i) => limiter.check('single', ALGORITHMS[i % 4]!)),
        ),
      );
      expect(decisions.filter((d) => d.source !== 'redis')).toEqual([]);
      for (const algorithm of ALGORITHMS) {
        const admitted = decisions.filter((d) => d.policy === algorithm && d.allowed).length;
        expect(admitted, algorithm).toBe(100);
      }
      expect(runs).toBeGreaterThan(0);
      expect(runs).toBeLessThan(decisions.length / 10);
    } finally {
      for (const limiter of limiters) await limiter.close();
      for (const client of clients) client.disconnect();
    }
  });

  test('a Redis whose script cache was emptied gets the source again and keeps deciding, counts intact', async () => {
    const server = await startPrivateRedis();
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    const limiter = new RateLimiter({ redis: client, rules, breaker: { timeoutMs: 5000, failures: 1 } });
    try {
      const first = await limiter.check('flushed', 'fixed-window');
      expect([first.source, first.remaining]).toEqual(['redis', 99]);
      expect(await client.script('EXISTS', BATCH_SCRIPT.sha)).toEqual([1]);
      await client.script('FLUSH');
      // The EVALSHA is refused with NOSCRIPT (the script did not run), the source goes by EVAL.
      const second = await limiter.check('flushed', 'fixed-window');
      expect([second.source, second.remaining]).toEqual(['redis', 98]);
      expect(await client.script('EXISTS', BATCH_SCRIPT.sha)).toEqual([1]);
      // One failure would have opened this breaker: NOSCRIPT never counted as one.
      expect(limiter.breakerState).toBe('closed');
    } finally {
      await limiter.close();
      client.disconnect();
      await server.dispose();
    }
  });
});
