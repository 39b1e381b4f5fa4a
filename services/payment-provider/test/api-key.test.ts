import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { providerEnv } from './support/env.ts';

const KEY = 'merchant-key-of-this-deployment-0123';

describe('payment provider: only the merchant moves money', () => {
  test('charges, reads and refunds need the API key; production refuses the development key', async ({
    pg,
  }) => {
    const env = providerEnv(pg, {
      PAYMENT_DECLINE_RATE: '0',
      PAYMENT_LATENCY_MS: '0',
      PAYMENT_LATENCY_JITTER_MS: '0',
    });
    // A production start with a real webhook secret: only the API key settings vary.
    const inProduction = (apiKey: Record<string, string>) =>
      buildApp({
        ...env,
        NODE_ENV: 'production',
        ADMIN_PORT: '0',
        WEBHOOK_SECRET: 'a-real-webhook-secret-0123',
        ...apiKey,
      });
    await expect(inProduction({})).rejects.toThrow(/API_KEY is its committed development default/);
    await expect(inProduction({ API_KEY: KEY, API_KEY_OPTIONAL: 'true' })).rejects.toThrow(
      /API_KEY_OPTIONAL=true/,
    );

    // As in production: the key is required (API_KEY_OPTIONAL is off there).
    const { app } = await buildApp({ ...env, API_KEY: KEY, API_KEY_OPTIONAL: 'false' });
    try {
      const charge = {
        amountCents: 1500,
        currency: 'EUR',
        reference: 'order-1',
        paymentMethod: 'pm_card_visa',
      };
      const pay = (headers: Record<string, string>) =>
        app.inject({
          method: 'POST',
          url: '/payments',
          headers: { 'idempotency-key': 'key-00000042', ...headers },
          payload: charge,
        });
      const anonymous = await pay({});
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json()).toMatchObject({ code: 'SDLAB_AUTH_UNAUTHENTICATED' });
      expect((await pay({ authorization: 'Bearer not-the-merchant-key-000' })).statusCode).toBe(401);
      const paid = await pay({ authorization: `Bearer ${KEY}` });
      expect(paid.statusCode).toBe(201);
      const id = paid.json().id as string;

      expect((await app.inject({ url: `/payments/${id}` })).statusCode).toBe(401);
      expect((await app.inject({ url: '/payments?reference=order-1' })).statusCode).toBe(401);
      const refund = (headers: Record<string, string>) =>
        app.inject({ method: 'POST', url: `/payments/${id}/refunds`, headers, payload: {} });
      expect((await refund({})).statusCode).toBe(401);
      const { rows } = await pg.pool.query('SELECT status FROM payments.payments WHERE id = $1', [id]);
      expect(rows[0]?.status).toBe('succeeded');
      expect((await refund({ authorization: `Bearer ${KEY}` })).statusCode).toBeLessThan(300);
      // Probes stay open for the orchestrator.
      expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});
