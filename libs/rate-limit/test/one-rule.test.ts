import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { createOneRuleLimiter, routeLimit } from '../src/one-rule.ts';
import { RulesError } from '../src/rules.ts';

describe('createOneRuleLimiter (real Redis)', () => {
  test('one token bucket, shared through Redis by every limiter built with the same prefix', async ({
    redis,
  }) => {
    const rule = { name: 'creates', capacity: 3, refillPerSec: 0.001, description: 'creates per client' };
    // Two instances of a service: what one spends, the other sees.
    const a = createOneRuleLimiter(rule, {
      redis: redis.client,
      keys: redis.prefix,
      breaker: { timeoutMs: 5000 },
    });
    const b = createOneRuleLimiter(rule, {
      redis: redis.client,
      keys: redis.prefix,
      breaker: { timeoutMs: 5000 },
    });
    expect(a.rule).toBe('creates');
    const decisions = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).limiter.check('client-1', a.rule)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
    expect(decisions.every((d) => d.source === 'redis' && d.limit === 3)).toBe(true);
    expect((await a.limiter.check('client-2', a.rule)).allowed).toBe(true);
  });

  test('a bad rule fails with its name in the message', () => {
    const build = () =>
      createOneRuleLimiter(
        { name: 'holds', capacity: 0, refillPerSec: 1, description: 'holds per user' },
        { redis: undefined as never },
      );
    expect(build).toThrow(RulesError);
    expect(build).toThrow(/holds/);
  });

  test('the route option charges the rule to the subject the request names', () => {
    const option = routeLimit('holds', (request) => String(request.headers['x-user']));
    expect(option.rule).toBe('holds');
    expect(option.key({ headers: { 'x-user': 'u-1' } } as never)).toBe('u-1');
  });
});
