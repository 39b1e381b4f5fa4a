import { expectFuzzClean, test } from '@sdlab/testkit';
import { describe } from 'vitest';
import { buildApp } from '../src/main.ts';
import { providerEnv } from './support/env.ts';

describe('fuzz: every operation of the OpenAPI document', () => {
  test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', async ({ pg }) => {
    const { app } = await buildApp(
      providerEnv(pg, { PAYMENT_LATENCY_MS: '0', PAYMENT_LATENCY_JITTER_MS: '0' }),
    );
    try {
      const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      await expectFuzzClean({
        baseUrl,
        document: app.swagger(),
        headers: { authorization: 'Bearer dev-payment-provider-api-key', 'idempotency-key': 'fuzz-key-0001' },
      });
    } finally {
      await app.close();
    }
  });
});
