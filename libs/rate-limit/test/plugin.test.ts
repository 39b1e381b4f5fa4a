import { createService } from '@sdlab/service-kit';
import { test } from '@sdlab/testkit';
import Type from 'typebox';
import { describe, expect } from 'vitest';
import { RateLimiter } from '../src/limiter.ts';
import { rateLimitPlugin } from '../src/plugin.ts';
import { parseRules } from '../src/rules.ts';

const rules = parseRules([
  { name: 'free', algorithm: 'fixed-window', limit: 2, windowMs: 3_600_000 },
  { name: 'heavy', algorithm: 'token-bucket', capacity: 10, refillPerSec: 0.001 },
]);

async function appWith(limiter: RateLimiter) {
  const { app } = await createService({
    name: 'plugin-test',
    config: Type.Object({}),
    defaults: { PORT: 0, LOG_LEVEL: 'silent' },
    env: {},
  });
  await app.register(rateLimitPlugin, { limiter, exposeSource: true });
  app.get(
    '/things',
    { config: { rateLimit: { rule: 'free', key: (req) => String(req.headers['x-user'] ?? req.ip) } } },
    async () => ({ ok: true }),
  );
  app.post(
    '/exports',
    { config: { rateLimit: { rule: 'heavy', key: () => 'shared', cost: 4 } } },
    async () => ({ ok: true }),
  );
  app.get('/free-for-all', async () => ({ ok: true }));
  await app.ready();
  return app;
}

describe('Fastify plugin', () => {
  test('answers 429 as problem+json with Retry-After and the RateLimit headers', async ({ redis }) => {
    const app = await appWith(
      new RateLimiter({ redis: redis.client, rules, keys: redis.prefix, breaker: { timeoutMs: 5000 } }),
    );
    try {
      const get = () => app.inject({ method: 'GET', url: '/things', headers: { 'x-user': 'ada' } });
      const first = await get();
      expect(first.statusCode).toBe(200);
      expect(first.headers['ratelimit-policy']).toBe('"free";q=2;w=3600');
      expect(first.headers.ratelimit).toMatch(/^"free";r=1;t=\d+$/);
      expect(first.headers['x-ratelimit-remaining']).toBe('1');
      expect(first.headers['x-ratelimit-source']).toBe('redis');
      await get();
      const limited = await get();
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(limited.headers.ratelimit).toMatch(/^"free";r=0;t=\d+$/);
      expect(limited.json()).toMatchObject({
        status: 429,
        code: 'SDLAB_RATELIMIT_EXCEEDED',
        instance: '/things',
      });
      // Another user, and a route without a rule, are untouched.
      expect(
        (await app.inject({ method: 'GET', url: '/things', headers: { 'x-user': 'bob' } })).statusCode,
      ).toBe(200);
      const free = await app.inject({ method: 'GET', url: '/free-for-all' });
      expect(free.statusCode).toBe(200);
      expect(free.headers.ratelimit).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  test('charges a route its cost', async ({ redis }) => {
    const app = await appWith(
      new RateLimiter({ redis: redis.client, rules, keys: redis.prefix, breaker: { timeoutMs: 5000 } }),
    );
    try {
      const codes = [];
      for (let i = 0; i < 3; i += 1)
        codes.push((await app.inject({ method: 'POST', url: '/exports' })).statusCode);
      expect(codes).toEqual([200, 200, 429]); // 4 + 4 of 10 tokens, then 4 more do not fit
    } finally {
      await app.close();
    }
  });

  test('a route naming an unknown rule fails at start-up, not at its first request', async ({ redis }) => {
    const limiter = new RateLimiter({
      redis: redis.client,
      rules,
      keys: redis.prefix,
      breaker: { timeoutMs: 5000 },
    });
    const { app } = await createService({
      name: 'plugin-test',
      config: Type.Object({}),
      defaults: { PORT: 0, LOG_LEVEL: 'silent' },
      env: {},
    });
    await app.register(rateLimitPlugin, { limiter });
    expect(() =>
      app.get('/x', { config: { rateLimit: { rule: 'missing', key: () => 'k' } } }, async () => ({})),
    ).toThrow('no rate-limit rule named "missing"');
    await app.close();
  });
});
