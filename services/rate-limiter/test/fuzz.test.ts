import { describeFuzz, expectFuzzClean } from '@sdlab/testkit';
import { appWithRules } from './support/app.ts';

const rules = [
  { name: 'free', algorithm: 'sliding-window-counter', limit: 100, windowMs: 60_000 },
  { name: 'bucket', algorithm: 'token-bucket', capacity: 100, refillPerSec: 10 },
];

describeFuzz(async ({ redis }) => {
  const service = await appWithRules(redis, rules);
  try {
    await expectFuzzClean({
      app: service.app,
      headers: { authorization: 'Bearer dev-rate-limiter-api-key' },
    });
  } finally {
    await service.close();
  }
});
