import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { appWithRules } from './support/app.ts';

const rules = [
  { name: 'free', algorithm: 'sliding-window-counter', limit: 3, windowMs: 60_000 },
  { name: 'bucket', algorithm: 'token-bucket', capacity: 100, refillPerSec: 10 },
];

describe('POST /v1/checks', () => {
  test('answers 200 with the decision and the RateLimit headers, allowed or not', async ({ redis }) => {
    const service = await appWithRules(redis, rules);
    try {
      const send = () =>
        service.app.inject({ method: 'POST', url: '/v1/checks', payload: { key: 'user-1', rule: 'free' } });
      const first = await send();
      expect(first.statusCode).toBe(200);
      expect(first.json()).toMatchObject({
        allowed: true,
        limit: 3,
        windowMs: 60_000,
        remaining: 2,
        retryAfterMs: 0,
        policy: 'free',
        source: 'redis',
      });
      expect(first.headers).toMatchObject({
        'ratelimit-policy': '"free";q=3;w=60',
        'x-ratelimit-limit': '3',
        'x-ratelimit-remaining': '2',
        'x-ratelimit-source': 'redis',
      });
      expect(first.headers.ratelimit).toMatch(/^"free";r=2;t=\d+$/);
      expect(first.headers['retry-after']).toBeUndefined();
      await send();
      await send();
      const denied = await send();
      expect(denied.statusCode).toBe(200);
      expect(denied.json()).toMatchObject({ allowed: false, remaining: 0 });
      expect(Number(denied.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // The count lives under the service's prefix, with the rule and key in a hash tag.
      expect(await redis.client.exists(`${redis.prefix}swc:{free:user-1}`)).toBe(1);
    } finally {
      await service.close();
    }
  });

  test('charges the cost', async ({ redis }) => {
    const service = await appWithRules(redis, rules);
    try {
      const response = await service.app.inject({
        method: 'POST',
        url: '/v1/checks',
        payload: { key: 'k', rule: 'bucket', cost: 40 },
      });
      expect(response.json()).toMatchObject({ allowed: true, remaining: 60 });
    } finally {
      await service.close();
    }
  });

  test('rejects bad input with a problem naming the field', async ({ redis }) => {
    const service = await appWithRules(redis, rules);
    try {
      const post = (payload: unknown) =>
        service.app.inject({ method: 'POST', url: '/v1/checks', payload: payload as object });
      const cases: [unknown, number, string][] = [
        [{ key: 'x'.repeat(257), rule: 'free' }, 400, 'body.key'],
        [{ key: 'has space', rule: 'free' }, 400, 'body.key'],
        [{ key: 'k', rule: 'free', cost: 0 }, 400, 'body.cost'],
        [{ key: 'k', rule: 'free', cost: 1001 }, 400, 'body.cost'],
        [{ key: 'k' }, 400, 'body.rule'],
      ];
      for (const [payload, status, field] of cases) {
        const response = await post(payload);
        expect(response.statusCode, JSON.stringify(payload)).toBe(status);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(response.json().errors.map((e: { field: string }) => e.field)).toContain(field);
      }
      const unknown = await post({ key: 'k', rule: 'gold' });
      expect(unknown.statusCode).toBe(422);
      expect(unknown.json()).toMatchObject({ code: 'SDLAB_RATELIMITER_UNKNOWN_RULE' });
      expect(unknown.json().detail).toContain('body.rule');
      const tooCostly = await post({ key: 'k', rule: 'free', cost: 4 });
      expect(tooCostly.statusCode).toBe(422);
      expect(tooCostly.json()).toMatchObject({ code: 'SDLAB_RATELIMITER_COST_EXCEEDS_LIMIT' });
      expect(tooCostly.json().detail).toContain('body.cost');
      // Nothing reached Redis.
      expect(await redis.client.keys(`${redis.prefix}*`)).toEqual([]);
    } finally {
      await service.close();
    }
  });
});

describe('POST /v1/checks/batch', () => {
  test('decides many keys in one call, in request order', async ({ redis }) => {
    const service = await appWithRules(redis, rules);
    try {
      const checks = [
        ...Array.from({ length: 5 }, () => ({ key: 'a', rule: 'free' })),
        { key: 'b', rule: 'bucket', cost: 7 },
      ];
      const response = await service.app.inject({
        method: 'POST',
        url: '/v1/checks/batch',
        payload: { checks },
      });
      expect(response.statusCode).toBe(200);
      const results = response.json().results;
      expect(results.map((r: { allowed: boolean }) => r.allowed)).toEqual([
        true,
        true,
        true,
        false,
        false,
        true,
      ]);
      expect(results[5]).toMatchObject({ policy: 'bucket', remaining: 93, source: 'redis' });
    } finally {
      await service.close();
    }
  });

  test('bounds the batch and names the bad item', async ({ redis }) => {
    const service = await appWithRules(redis, rules, { BATCH_MAX: '10' });
    try {
      const tooMany = await service.app.inject({
        method: 'POST',
        url: '/v1/checks/batch',
        payload: { checks: Array.from({ length: 11 }, () => ({ key: 'a', rule: 'free' })) },
      });
      expect(tooMany.statusCode).toBe(400);
      expect(tooMany.json().errors[0]).toMatchObject({
        field: 'body.checks',
        message: 'must NOT have more than 10 items',
      });
      const badItem = await service.app.inject({
        method: 'POST',
        url: '/v1/checks/batch',
        payload: {
          checks: [
            { key: 'a', rule: 'free' },
            { key: 'b', rule: 'gold' },
          ],
        },
      });
      expect(badItem.statusCode).toBe(422);
      expect(badItem.json().detail).toContain('body.checks[1].rule');
      expect(await redis.client.keys(`${redis.prefix}*`)).toEqual([]);
    } finally {
      await service.close();
    }
  });
});

describe('rules, docs, metrics, health', () => {
  test('refuses a NUL anywhere in a batch, naming the item, before anything reaches Redis', async ({
    redis,
  }) => {
    const service = await appWithRules(redis, rules);
    try {
      const checks = Array.from({ length: 5 }, (_, i) => ({ key: `nul-${i}`, rule: 'free' }));
      checks[3] = { key: 'nul-\u0000-3', rule: 'free' };
      const response = await service.app.inject({
        method: 'POST',
        url: '/v1/checks/batch',
        payload: { checks },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({
        code: 'SDLAB_KIT_NUL_CHARACTER',
        detail: expect.stringContaining('body.checks[3].key'),
      });
      expect(await redis.client.keys(`${redis.prefix}*nul-*`)).toEqual([]);
    } finally {
      await service.close();
    }
  });

  test('GET /v1/rules lists the rules in force with their defaults', async ({ redis }) => {
    const service = await appWithRules(redis, rules);
    try {
      const response = await service.app.inject({ method: 'GET', url: '/v1/rules' });
      expect(response.statusCode).toBe(200);
      expect(response.json().rules).toEqual([
        { ...rules[0], failurePolicy: 'local-fallback', mode: 'exact' },
        { ...rules[1], failurePolicy: 'local-fallback', mode: 'exact' },
      ]);
    } finally {
      await service.close();
    }
  });

  test('publishes every route in OpenAPI, counts decisions by rule, outcome and source, and is ready', async ({
    redis,
  }) => {
    const service = await appWithRules(redis, rules);
    try {
      const spec = (await service.app.inject({ method: 'GET', url: '/docs/json' })).json();
      expect(Object.keys(spec.paths).sort()).toEqual(['/v1/checks', '/v1/checks/batch', '/v1/rules']);
      const check = spec.paths['/v1/checks'].post;
      expect(check.requestBody.content['application/json'].schema.properties.key.maxLength).toBe(256);
      expect(Object.keys(check.responses).sort()).toEqual(['200', '400', '422']);
      expect(check.responses['200'].headers['ratelimit-policy']).toBeDefined();

      for (let i = 0; i < 4; i += 1) {
        await service.app.inject({ method: 'POST', url: '/v1/checks', payload: { key: 'm', rule: 'free' } });
      }
      const metrics = (await service.app.inject({ method: 'GET', url: '/metrics' })).body;
      expect(metrics).toContain(
        'sdlab_ratelimit_decisions_total{rule="free",outcome="allowed",source="redis",service="rate-limiter"} 3',
      );
      expect(metrics).toContain(
        'sdlab_ratelimit_decisions_total{rule="free",outcome="denied",source="redis",service="rate-limiter"} 1',
      );
      expect(metrics).toContain('sdlab_ratelimit_breaker_state{service="rate-limiter"} 0');
      expect((await service.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await service.close();
    }
  });
});

describe('shutdown', () => {
  test('commits what the hot-key cache admitted before Redis closes (limiter closes first)', async ({
    redis,
  }) => {
    const service = await appWithRules(redis, [
      {
        name: 'hot',
        algorithm: 'fixed-window',
        limit: 1000,
        windowMs: 86_400_000,
        mode: 'local-cache',
        localCache: { share: 50, syncMs: 60_000 },
      },
    ]);
    for (let i = 0; i < 3; i += 1) {
      const response = await service.app.inject({
        method: 'POST',
        url: '/v1/checks',
        payload: { key: 'k', rule: 'hot' },
      });
      expect(response.json()).toMatchObject({ allowed: true, source: 'local-cache' });
    }
    const key = `${redis.prefix}fw:{hot:k}`;
    expect(await redis.client.hget(key, 'c')).toBeNull(); // admitted from the local share only
    await service.close();
    expect(await redis.client.hget(key, 'c')).toBe('3');
  });
});
