import { describeFuzz, expectFuzzClean } from '@sdlab/testkit';
import { buildApp } from '../src/main.ts';
import { providerEnv } from './support/env.ts';

describeFuzz(async ({ pg }) => {
  const { app } = await buildApp(
    providerEnv(pg, { PAYMENT_LATENCY_MS: '0', PAYMENT_LATENCY_JITTER_MS: '0' }),
  );
  try {
    await expectFuzzClean({
      app,
      headers: { authorization: 'Bearer dev-payment-provider-api-key', 'idempotency-key': 'fuzz-key-0001' },
    });
  } finally {
    await app.close();
  }
});
