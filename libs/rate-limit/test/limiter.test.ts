import { startPrivateRedis, test } from '@sdlab/testkit';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { describe, expect } from 'vitest';
import { RateLimiter } from '../src/limiter.ts';
import { LocalCache } from '../src/local-cache.ts';
import { parseRules } from '../src/rules.ts';

const rules = parseRules([
  { name: 'tb', algorithm: 'token-bucket', capacity: 10, refillPerSec: 0.001 },
  { name: 'fw', algorithm: 'fixed-window', limit: 10, windowMs: 3_600_000 },
  { name: 'swc', algorithm: 'sliding-window-counter', limit: 10, windowMs: 3_600_000 },
  { name: 'swl', algorithm: 'sliding-window-log', limit: 10, windowMs: 3_600_000 },
  {
    name: 'hot',
    algorithm: 'fixed-window',
    limit: 100,
    windowMs: 3_600_000,
    mode: 'local-cache',
    localCache: { share: 10, syncMs: 1000 },
  },
  { name: 'open', algorithm: 'fixed-window', limit: 2, windowMs: 60_000, failurePolicy: 'fail-open' },
  { name: 'closed', algorithm: 'fixed-window', limit: 2, windowMs: 60_000, failurePolicy: 'fail-closed' },
  { name: 'local', algorithm: 'fixed-window', limit: 2, windowMs: 60_000, failurePolicy: 'local-fallback' },
]);

// The Redis timeout is wall-clock time: with every suite sharing two cores, a busy event loop can
// outlast the default 200 ms and a failure policy would answer instead. Tests of Redis's answers
// move it out of the way; the outage test below keeps a short one on purpose.
const PATIENT = { timeoutMs: 5000, failures: 1000 };

describe('RateLimiter on real Redis', () => {
  for (const rule of ['tb', 'fw', 'swc', 'swl']) {
    test(`${rule}: decides from Redis, with limit, remaining, reset and retry-after`, async ({ redis }) => {
      const limiter = new RateLimiter({ redis: redis.client, rules, keys: redis.prefix, breaker: PATIENT });
      const decisions = await Promise.all(Array.from({ length: 12 }, () => limiter.check('user-1', rule)));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
      const denied = decisions.find((d) => !d.allowed)!;
      expect(denied).toMatchObject({ limit: 10, remaining: 0, policy: rule, source: 'redis' });
      expect(denied.retryAfterMs).toBeGreaterThan(0);
      expect(denied.resetMs).toBeGreaterThan(0);
      // Another subject has its own count.
      expect((await limiter.check('user-2', rule)).allowed).toBe(true);
      await limiter.close();
    });
  }

  test('checkMany answers many keys in one pipeline, in request order', async ({ redis }) => {
    const limiter = new RateLimiter({ redis: redis.client, rules, keys: redis.prefix, breaker: PATIENT });
    const requests = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 2}`, rule: 'fw', cost: 1 }));
    const decisions = await limiter.checkMany(requests);
    expect(decisions.map((d) => d.allowed)).toEqual(Array.from({ length: 30 }, (_, i) => i < 20));
    expect(decisions[19]).toMatchObject({ remaining: 0, source: 'redis' });
  });

  test('refuses an unknown rule and a cost above the limit before calling Redis', async ({ redis }) => {
    const limiter = new RateLimiter({ redis: redis.client, rules, keys: redis.prefix, breaker: PATIENT });
    await expect(limiter.check('k', 'nope')).rejects.toMatchObject({ code: 'SDLAB_RATELIMIT_UNKNOWN_RULE' });
    await expect(limiter.check('k', 'fw', 11)).rejects.toMatchObject({
      code: 'SDLAB_RATELIMIT_COST_EXCEEDS_LIMIT',
      statusCode: 422,
    });
  });

  test('local-cache: the flush timer runs only while the cache holds keys', async ({ redis }) => {
    const limiter = new RateLimiter({ redis: redis.client, rules, keys: redis.prefix, breaker: PATIENT });
    const [hot] = parseRules([
      {
        name: 'hot-brief',
        algorithm: 'fixed-window',
        limit: 100,
        windowMs: 3_600_000,
        mode: 'local-cache',
        localCache: { share: 10, syncMs: 50 },
      },
    ]);
    // Commits go to real Redis through the limiter's fixed window.
    const cache = new LocalCache({
      commit: (_rule, subject, units) => limiter.check(subject, 'fw', Math.max(units, 0)),
      flushEveryMs: 20,
    });
    try {
      expect(cache.flushing).toBe(false);
      expect((await cache.take(hot!, 'user-1', 1)).allowed).toBe(true);
      expect(cache.flushing).toBe(true);
      // The entry's view expires after syncMs; the next flush commits it and drops the idle key.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(cache.flushing).toBe(false);
      expect((await cache.take(hot!, 'user-1', 1)).allowed).toBe(true);
      expect(cache.flushing).toBe(true);
    } finally {
      await cache.close();
      await limiter.close();
    }
    expect(cache.flushing).toBe(false);
  });

  test('local-cache: three instances admit at least the limit and at most (N-1) x share more', async ({
    redis,
  }) => {
    const clients = [0, 1, 2].map(() => new Redis(redis.url));
    const limiters = clients.map(
      (client) => new RateLimiter({ redis: client, rules, keys: redis.prefix, breaker: PATIENT }),
    );
    try {
      const decisions = await Promise.all(
        Array.from({ length: 600 }, (_, i) => limiters[i % 3]!.check('celebrity', 'hot')),
      );
      const admitted = decisions.filter((d) => d.allowed).length;
      expect(decisions.every((d) => d.source === 'local-cache')).toBe(true);
      expect(admitted).toBeGreaterThanOrEqual(100);
      expect(admitted).toBeLessThanOrEqual(100 + 2 * 10);
      await Promise.all(limiters.map((l) => l.close()));
      // Every admitted unit reached the shared count once the caches flushed.
      const committed = Number(await redis.client.hget(`${redis.prefix}fw:{hot:celebrity}`, 'c'));
      expect(committed).toBe(admitted);
    } finally {
      for (const client of clients) client.disconnect();
    }
  });

  test('while Redis is down each failure policy answers at once, and Redis takes over again', async () => {
    const server = await startPrivateRedis();
    const client = new Redis(server.url, { enableOfflineQueue: false, retryStrategy: () => 100 });
    client.on('error', () => undefined);
    await new Promise((resolve) => client.once('ready', resolve));
    const registry = new Registry();
    const limiter = new RateLimiter({
      redis: client,
      rules,
      registry,
      breaker: { failures: 3, halfOpenAfterMs: 300, timeoutMs: 200 },
    });
    let down = false;
    try {
      expect((await limiter.check('u', 'local')).source).toBe('redis');
      await server.kill();
      down = true;

      // One after another: checks made in the same turn share one Redis call (coalesced), and the
      // breaker counts calls, so each check here is its own call, as each request's would be.
      const during = async (rule: string) => {
        const decisions = [];
        for (let i = 0; i < 4; i++) decisions.push(await limiter.check('u', rule));
        return decisions;
      };
      const open = await during('open');
      const closed = await during('closed');
      const local = await during('local');
      expect(open.map((d) => [d.source, d.allowed])).toEqual(Array(4).fill(['fail-open', true]));
      expect(closed.map((d) => [d.source, d.allowed])).toEqual(Array(4).fill(['fail-closed', false]));
      expect(closed[0]!.retryAfterMs).toBe(300);
      // The fallback counts from zero in memory: 2 of 4 pass, whatever Redis had counted.
      expect(local.map((d) => [d.source, d.allowed])).toEqual([
        ['local-fallback', true],
        ['local-fallback', true],
        ['local-fallback', false],
        ['local-fallback', false],
      ]);
      expect(limiter.breakerState).toBe('open');
      const metrics = await registry.metrics();
      expect(metrics).toMatch(/sdlab_ratelimit_redis_errors_total\{reason="breaker-open"\} \d+/);
      expect(metrics).toContain('sdlab_ratelimit_breaker_state 2');

      await server.start();
      down = false;
      await expect
        .poll(async () => (await limiter.check('v', 'local')).source, { timeout: 10_000, interval: 100 })
        .toBe('redis');
      expect(limiter.breakerState).toBe('closed');
    } finally {
      await limiter.close();
      client.disconnect();
      // testkit's kill() never resolves for a server already killed: restart it so dispose() can stop it.
      if (down) await server.start();
      await server.dispose();
    }
  });

  test('a call Redis leaves unanswered past the timeout goes to the failure policy; its late answer is counted', async () => {
    const server = await startPrivateRedis();
    const client = new Redis(server.url, { enableOfflineQueue: false });
    client.on('error', () => undefined);
    await new Promise((resolve) => client.once('ready', resolve));
    const registry = new Registry();
    const limiter = new RateLimiter({
      redis: client,
      rules,
      registry,
      breaker: { failures: 1000, halfOpenAfterMs: 300, timeoutMs: 150 },
    });
    // A stopped process, not a dead one: the connection stays up and the commands wait in its socket.
    const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
    let stopped = false;
    try {
      expect((await limiter.check('u', 'local')).source).toBe('redis');
      process.kill(pid, 'SIGSTOP');
      stopped = true;
      // Two calls in flight at once, started at different times: each expires on its own deadline.
      const first = limiter.check('u', 'local');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = limiter.check('u', 'local');
      const decisions = await Promise.all([first, second]);
      expect(decisions.map((d) => d.source)).toEqual(['local-fallback', 'local-fallback']);
      expect(await registry.metrics()).toContain('sdlab_ratelimit_redis_errors_total{reason="timeout"} 2');
      process.kill(pid, 'SIGCONT');
      stopped = false;
      // Redis then runs both commands: each is a decision made twice, and counted as such.
      await expect
        .poll(async () => registry.metrics(), { timeout: 5000, interval: 50 })
        .toContain('sdlab_ratelimit_redis_errors_total{reason="late-answer"} 2');
      expect((await limiter.check('u', 'local')).source).toBe('redis');
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT');
      await limiter.close();
      client.disconnect();
      await server.dispose();
    }
  });
});
