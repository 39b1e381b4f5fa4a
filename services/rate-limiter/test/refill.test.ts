import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { appWithRules, check } from './support/app.ts';
import { redisNow, sleep } from './support/redis-time.ts';

// Guarantee: once the window (or refill time) has passed, requests are admitted again, at the
// configured rate. Measured against Redis's clock, never assumed; bounds are wide enough to hold
// on a loaded 2-core machine and still fail if a limiter stopped refilling or refilled too fast.

const LIMIT = 5;
const WINDOW_MS = 1000; // 5 per second everywhere; the bucket refills 5 tokens per second
const rules = [
  { name: 'tb', algorithm: 'token-bucket', capacity: LIMIT, refillPerSec: LIMIT },
  { name: 'swl', algorithm: 'sliding-window-log', limit: LIMIT, windowMs: WINDOW_MS },
  { name: 'swc', algorithm: 'sliding-window-counter', limit: LIMIT, windowMs: WINDOW_MS },
  { name: 'fw', algorithm: 'fixed-window', limit: LIMIT, windowMs: WINDOW_MS },
];

describe('refill', () => {
  for (const rule of ['tb', 'swl', 'swc', 'fw']) {
    test(`${rule}: denied when spent, admitted again after the retry-after it gave, then ~${LIMIT}/s`, async ({
      redis,
    }) => {
      const service = await appWithRules(redis, rules);
      try {
        // Spend the quota; the first denial says when to come back.
        let denial: Awaited<ReturnType<typeof check>>['decision'] | undefined;
        for (let i = 0; i < LIMIT * 3 && !denial; i += 1) {
          const { decision } = await check(service.app, { key: 'k', rule });
          if (!decision.allowed) denial = decision;
        }
        expect(denial).toBeDefined();
        expect(denial!.retryAfterMs).toBeGreaterThan(0);
        expect(denial!.retryAfterMs).toBeLessThanOrEqual(2 * WINDOW_MS);
        await sleep(denial!.retryAfterMs + 25);
        expect((await check(service.app, { key: 'k', rule })).decision.allowed).toBe(true);

        // Offer ~50 requests/s, 10x the rate, for ~3 s of Redis time; count what passes.
        const start = await redisNow(redis.client);
        let admitted = 0;
        let offered = 0;
        while ((await redisNow(redis.client)) - start < 3000) {
          if ((await check(service.app, { key: 'k', rule })).decision.allowed) admitted += 1;
          offered += 1;
          await sleep(20);
        }
        const seconds = ((await redisNow(redis.client)) - start) / 1000;
        const rate = admitted / seconds;
        console.info(
          `[measured] ${rule}: ${admitted} of ${offered} admitted in ${seconds.toFixed(2)} s = ${rate.toFixed(2)}/s (configured ${LIMIT}/s)`,
        );
        // Whatever the algorithm, ~LIMIT per second: at least one window's worth less than that
        // (the sliding counter's weighting and the edges), at most one window's worth more.
        expect(offered).toBeGreaterThan(admitted * 2);
        expect(admitted).toBeGreaterThanOrEqual(Math.floor(LIMIT * seconds) - LIMIT);
        expect(admitted).toBeLessThanOrEqual(Math.ceil(LIMIT * seconds) + LIMIT);
      } finally {
        await service.close();
      }
    });
  }
});
