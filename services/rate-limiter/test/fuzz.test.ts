import { expectFuzzClean, test } from '@sdlab/testkit';
import { describe } from 'vitest';
import { appWithRules } from './support/app.ts';

const rules = [
  { name: 'free', algorithm: 'sliding-window-counter', limit: 100, windowMs: 60_000 },
  { name: 'bucket', algorithm: 'token-bucket', capacity: 100, refillPerSec: 10 },
];

describe('fuzz: every operation of the OpenAPI document', () => {
  test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', async ({ redis }) => {
    const service = await appWithRules(redis, rules);
    try {
      const baseUrl = await service.app.listen({ host: '127.0.0.1', port: 0 });
      await expectFuzzClean({
        baseUrl,
        document: service.app.swagger(),
        headers: { authorization: 'Bearer dev-rate-limiter-api-key' },
      });
    } finally {
      await service.close();
    }
  });
});
