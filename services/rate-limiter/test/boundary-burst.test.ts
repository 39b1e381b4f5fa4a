import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { appWithRules, check } from './support/app.ts';
import { redisNow, sleep } from './support/redis-time.ts';

// Documents the fixed window's known flaw [004:478]: a client that spends the limit just before a
// window edge can spend it again just after, 2x the limit within moments. The sliding algorithms
// count the last window wherever it falls, so they do not. Edges are found on Redis's clock, the
// one the scripts use.

const LIMIT = 10;
const WINDOW_MS = 2000;
const rules = [
  { name: 'fw', algorithm: 'fixed-window', limit: LIMIT, windowMs: WINDOW_MS },
  { name: 'swl', algorithm: 'sliding-window-log', limit: LIMIT, windowMs: WINDOW_MS },
  { name: 'swc', algorithm: 'sliding-window-counter', limit: LIMIT, windowMs: WINDOW_MS },
];

type App = Awaited<ReturnType<typeof appWithRules>>['app'];

async function burst(app: App, rule: string, key: string): Promise<number> {
  let admitted = 0;
  for (let i = 0; i < LIMIT; i += 1) if ((await check(app, { key, rule })).decision.allowed) admitted += 1;
  return admitted;
}

/**
 * LIMIT requests in the last ~250 ms of a window, LIMIT more just after the edge. Retries with a
 * fresh key if the machine was too slow to land the first burst before the edge.
 */
async function acrossEdge(app: App, redis: { client: import('ioredis').Redis }, rule: string) {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const key = `edge-${attempt}`;
    const now = await redisNow(redis.client);
    const edge = Math.ceil(now / WINDOW_MS) * WINDOW_MS;
    await sleep(edge - 250 - now);
    const before = await burst(app, rule, key);
    const afterFirst = await redisNow(redis.client);
    if (afterFirst >= edge) continue; // the first burst straddled the edge: try the next one
    await sleep(edge - afterFirst + 30);
    const startSecond = await redisNow(redis.client);
    const after = await burst(app, rule, key);
    const endSecond = await redisNow(redis.client);
    if (endSecond >= edge + WINDOW_MS) continue;
    return { before, after, sinceEdge: endSecond - edge, span: endSecond - (edge - 250), startSecond };
  }
  throw new Error('could not align a burst to a window edge in 5 tries');
}

describe('boundary burst', () => {
  test('fixed window admits 2x its limit across an edge', async ({ redis }) => {
    const service = await appWithRules(redis, rules);
    try {
      const r = await acrossEdge(service.app, redis, 'fw');
      console.info(
        `[measured] fixed-window: ${r.before} + ${r.after} admitted within ${Math.round(r.span)} ms`,
      );
      expect(r.before + r.after).toBe(2 * LIMIT);
    } finally {
      await service.close();
    }
  });

  test('sliding-window log admits nothing more until the first burst leaves the window', async ({
    redis,
  }) => {
    const service = await appWithRules(redis, rules);
    try {
      const r = await acrossEdge(service.app, redis, 'swl');
      console.info(
        `[measured] sliding-window-log: ${r.before} + ${r.after} admitted within ${Math.round(r.span)} ms`,
      );
      expect(r.before).toBe(LIMIT);
      expect(r.after).toBe(0);
    } finally {
      await service.close();
    }
  });

  test('sliding-window counter admits only the share of the previous window that slid out', async ({
    redis,
  }) => {
    const service = await appWithRules(redis, rules);
    try {
      const r = await acrossEdge(service.app, redis, 'swc');
      // At most LIMIT x (fraction of the window elapsed since the edge) can pass after it.
      const allowance = Math.floor((LIMIT * r.sinceEdge) / WINDOW_MS);
      console.info(
        `[measured] sliding-window-counter: ${r.before} + ${r.after} admitted within ${Math.round(r.span)} ms (allowance ${allowance})`,
      );
      expect(r.before).toBe(LIMIT);
      expect(r.after).toBeLessThanOrEqual(allowance);
      expect(r.before + r.after).toBeLessThan(2 * LIMIT);
    } finally {
      await service.close();
    }
  });
});
