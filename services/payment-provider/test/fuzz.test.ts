import { fuzzOpenApi, test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { providerEnv } from './support/env.ts';

describe('fuzz: every operation of the OpenAPI document', () => {
  test('hostile input gets a 4xx problem+json, never a 5xx or a dropped connection', async ({ pg }) => {
    const { app } = await buildApp(
      providerEnv(pg, { PAYMENT_LATENCY_MS: '0', PAYMENT_LATENCY_JITTER_MS: '0' }),
    );
    try {
      const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      const report = await fuzzOpenApi({
        baseUrl,
        document: app.swagger(),
        headers: { authorization: 'Bearer dev-payment-provider-api-key', 'idempotency-key': 'fuzz-key-0001' },
      });
      expect(report.cases).toBeGreaterThan(100);
      expect(report.findings).toEqual([]);
      expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
