import { startPrivateRedis, uniqueId } from '@sdlab/testkit';
import { describe, expect, it } from 'vitest';
import { appWithRules, check } from './support/app.ts';

// Guarantee: with Redis stopped mid-run, every rule answers by its failure policy, at once (the
// breaker is open, so no request waits on a socket), the service stays up (liveness 200, readiness
// 503), and Redis takes over again when it is back. A private Redis, so other suites never notice.

const rules = [
  { name: 'open', algorithm: 'fixed-window', limit: 3, windowMs: 60_000, failurePolicy: 'fail-open' },
  { name: 'closed', algorithm: 'fixed-window', limit: 3, windowMs: 60_000, failurePolicy: 'fail-closed' },
  {
    name: 'local',
    algorithm: 'token-bucket',
    capacity: 3,
    refillPerSec: 0.001,
    failurePolicy: 'local-fallback',
  },
  {
    name: 'hot',
    algorithm: 'sliding-window-counter',
    limit: 100,
    windowMs: 60_000,
    failurePolicy: 'local-fallback',
    fallbackLimit: 4,
    mode: 'local-cache',
    localCache: { share: 10, syncMs: 50 },
  },
];

describe('Redis stopped mid-run', () => {
  it('answers by each failure policy, stays up, and recovers when Redis returns', async () => {
    const server = await startPrivateRedis();
    const service = await appWithRules({ url: server.url, prefix: `t:${uniqueId()}:` }, rules, {
      BREAKER_FAILURES: '3',
      BREAKER_HALF_OPEN_MS: '300',
    });
    const { app } = service;
    let down = false;
    const decide = async (rule: string, n: number) => {
      const decisions = [];
      for (let i = 0; i < n; i += 1) {
        const started = performance.now();
        const { decision, response } = await check(app, { key: 'user-1', rule });
        decisions.push({
          ...decision,
          header: response.headers['x-ratelimit-source'],
          ms: performance.now() - started,
        });
      }
      return decisions;
    };
    try {
      // Before: Redis decides, and counts 2 of each rule's 3.
      for (const rule of ['open', 'closed', 'local']) {
        expect((await decide(rule, 2)).map((d) => d.source)).toEqual(['redis', 'redis']);
      }
      expect((await decide('hot', 1))[0]!.source).toBe('local-cache');

      await server.kill();
      down = true;

      const open = await decide('open', 10);
      const closed = await decide('closed', 10);
      const local = await decide('local', 10);
      const hot = await decide('hot', 10);
      // Let the 'hot' cache entry expire so it must sync, and fail over to its fallback.
      await new Promise((resolve) => setTimeout(resolve, 60));
      const hotAfterExpiry = await decide('hot', 6);

      expect(open.every((d) => d.allowed && d.source === 'fail-open' && d.header === 'fail-open')).toBe(true);
      expect(closed.every((d) => !d.allowed && d.source === 'fail-closed' && d.retryAfterMs === 300)).toBe(
        true,
      );
      // In memory, from a full bucket of 3: this instance alone decides while Redis is away.
      expect(local.map((d) => d.allowed)).toEqual([true, true, true, ...Array(7).fill(false)]);
      expect(local.every((d) => d.source === 'local-fallback')).toBe(true);
      // The hot key keeps admitting from the share it holds until that entry must sync; from then on
      // its fallback decides, with the per-instance fallbackLimit of 4.
      const hotDecisions = [...hot, ...hotAfterExpiry];
      expect(hot.filter((d) => d.source === 'local-cache').every((d) => d.allowed)).toBe(true);
      expect(hotAfterExpiry.every((d) => d.source === 'local-fallback')).toBe(true);
      expect(hotDecisions.filter((d) => d.source === 'local-fallback' && d.allowed)).toHaveLength(4);
      const all = [...open, ...closed, ...local, ...hot, ...hotAfterExpiry];
      const slowest = Math.max(...all.map((d) => d.ms));
      const median = all.map((d) => d.ms).sort((a, b) => a - b)[Math.floor(all.length / 2)]!;
      console.info(
        `[measured] Redis down: ${all.length} decisions, median ${median.toFixed(2)} ms, slowest ${slowest.toFixed(1)} ms`,
      );

      // Up, not ready; the breaker is open and the errors are counted as such.
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json().detail).toContain('redis');
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toContain('sdlab_ratelimit_breaker_state{service="rate-limiter"} 2');
      const breakerOpen = Number(
        /sdlab_ratelimit_redis_errors_total\{reason="breaker-open",service="rate-limiter"\} (\d+)/.exec(
          metrics,
        )?.[1],
      );
      // All but the few calls that opened the breaker were answered without touching the network.
      expect(breakerOpen).toBeGreaterThanOrEqual(all.length - 3 - hot.length);
      expect(metrics).toMatch(
        /sdlab_ratelimit_decisions_total\{rule="closed",outcome="denied",source="fail-closed",service="rate-limiter"\} 10/,
      );

      await server.start();
      down = false;
      await expect
        .poll(async () => (await check(app, { key: 'user-2', rule: 'closed' })).decision.source, {
          timeout: 10_000,
          interval: 100,
        })
        .toBe('redis');
      await expect
        .poll(async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode)
        .toBe(200);
      // Redis restarted empty (no persistence): counting starts over there, not from the fallback's.
      expect((await decide('local', 4)).map((d) => [d.source, d.allowed])).toEqual([
        ['redis', true],
        ['redis', true],
        ['redis', true],
        ['redis', false],
      ]);
      expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toContain(
        'sdlab_ratelimit_breaker_state{service="rate-limiter"} 0',
      );
    } finally {
      await service.close();
      // testkit's kill() waits for an exit that already happened when the server is down (a
      // SIGKILLed child has exitCode null): bring it back so dispose() can stop it.
      if (down) await server.start();
      await server.dispose();
    }
  });
});
