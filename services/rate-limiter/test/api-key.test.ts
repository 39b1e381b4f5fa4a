import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { appWithRules } from './support/app.ts';

const KEY = 'gateway-key-of-this-deployment-0123';
const rules = [{ name: 'free', algorithm: 'fixed-window', limit: 3, windowMs: 60_000 }];

describe('the decision API answers gateways, not their callers', () => {
  test('checks and rules need the API key; production refuses the development key', async ({ redis }) => {
    await expect(
      buildApp({ REDIS_URL: redis.url, NODE_ENV: 'production', ADMIN_PORT: '0', LOG_LEVEL: 'silent' }),
    ).rejects.toThrow(/API_KEY is its committed development default/);

    const service = await appWithRules(redis, rules, { API_KEY: KEY, API_KEY_OPTIONAL: 'false' });
    try {
      const check = (headers: Record<string, string>) =>
        service.app.inject({
          method: 'POST',
          url: '/v1/checks',
          headers,
          payload: { key: 'u', rule: 'free' },
        });
      // Without the key a caller could spend (or probe) anyone's budget.
      const anonymous = await check({});
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json()).toMatchObject({ code: 'SDLAB_AUTH_UNAUTHENTICATED' });
      expect((await check({ authorization: 'Bearer wrong-key-wrong-key-000' })).statusCode).toBe(401);
      expect((await service.app.inject({ url: '/v1/rules' })).statusCode).toBe(401);
      const allowed = await check({ authorization: `Bearer ${KEY}` });
      expect(allowed.statusCode).toBe(200);
      expect(allowed.json()).toMatchObject({ allowed: true, remaining: 2 });
      expect((await service.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await service.close();
    }
  });
});
