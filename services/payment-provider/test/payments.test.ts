import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyWebhook as verify } from '@sdlab/service-kit/webhook-signature';
import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { buildApp } from '../src/main.ts';
import { providerEnv } from './support/env.ts';

const SECRET = 'test-webhook-secret-0123456789';

/** A merchant endpoint that records every webhook it receives. */
async function receiver() {
  const received: {
    body: { id: string; type: string; data: { payment: { id: string } } };
    valid: boolean;
  }[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    received.push({
      body: JSON.parse(raw),
      valid: verify(SECRET, raw, req.headers['sdlab-signature'] as string),
    });
    res.writeHead(204).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return { url, received, close: () => new Promise((r) => server.close(r)) };
}

describe('payment provider', () => {
  test('a charge happens once per Idempotency-Key, even for concurrent retries', async ({ pg }) => {
    const app = (await buildApp(providerEnv(pg, { PAYMENT_DECLINE_RATE: '0' }))).app;
    try {
      const charge = {
        amountCents: 4200,
        currency: 'EUR',
        reference: 'hold-1',
        paymentMethod: 'pm_card_visa',
      };
      const send = () =>
        app.inject({
          method: 'POST',
          url: '/payments',
          headers: { 'idempotency-key': 'key-00000001' },
          payload: charge,
        });
      const responses = await Promise.all(Array.from({ length: 8 }, send));
      expect(responses.map((r) => r.statusCode).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
      const ids = new Set(responses.map((r) => r.json().id));
      expect(ids.size).toBe(1);
      const list = await app.inject({ url: '/payments?reference=hold-1' });
      expect(list.json().data).toHaveLength(1);
      expect(list.json().data[0]).toMatchObject({ status: 'succeeded', amountCents: 4200 });

      const reused = await app.inject({
        method: 'POST',
        url: '/payments',
        headers: { 'idempotency-key': 'key-00000001' },
        payload: { ...charge, amountCents: 1 },
      });
      expect(reused.statusCode).toBe(422);
      expect(reused.json().code).toBe('SDLAB_PAYMENTS_IDEMPOTENCY_KEY_REUSED');
    } finally {
      await app.close();
    }
  });

  test('declines, refunds once, refuses to refund a decline, validates input', async ({ pg }) => {
    const app = (await buildApp(providerEnv(pg))).app;
    try {
      const declined = await app.inject({
        method: 'POST',
        url: '/payments',
        headers: { 'idempotency-key': 'key-declined' },
        payload: { amountCents: 100, currency: 'EUR', reference: 'r', paymentMethod: 'pm_card_declined' },
      });
      expect(declined.json()).toMatchObject({ status: 'declined', declineCode: 'card_declined' });
      const refundDeclined = await app.inject({
        method: 'POST',
        url: `/payments/${declined.json().id}/refunds`,
      });
      expect(refundDeclined.statusCode).toBe(409);

      const ok = await app.inject({
        method: 'POST',
        url: '/payments',
        headers: { 'idempotency-key': 'key-refunded' },
        payload: { amountCents: 100, currency: 'EUR', reference: 'r', paymentMethod: 'pm_card_timeout' },
      });
      expect(ok.json().status).toBe('succeeded');
      const first = await app.inject({ method: 'POST', url: `/payments/${ok.json().id}/refunds` });
      const second = await app.inject({ method: 'POST', url: `/payments/${ok.json().id}/refunds` });
      expect([first.statusCode, second.statusCode]).toEqual([201, 200]);
      expect(second.json()).toMatchObject({ status: 'refunded' });

      const unavailable = await app.inject({
        method: 'POST',
        url: '/payments',
        headers: { 'idempotency-key': 'key-unavailable' },
        payload: { amountCents: 100, currency: 'EUR', reference: 'r', paymentMethod: 'pm_card_unavailable' },
      });
      expect(unavailable.statusCode).toBe(503);
      expect(unavailable.headers['retry-after']).toBe('1');

      const bad = await app.inject({
        method: 'POST',
        url: '/payments',
        headers: { 'idempotency-key': 'x' },
        payload: { amountCents: -1, currency: 'euro', reference: '' },
      });
      expect(bad.statusCode).toBe(400);
      const fields = bad.json().errors.map((e: { field: string }) => e.field);
      expect(fields).toEqual(expect.arrayContaining(['body.amountCents', 'body.currency', 'body.reference']));
    } finally {
      await app.close();
    }
  });

  test('webhooks are signed, retried and sent twice at a duplicate rate of 1', async ({ pg }) => {
    const hooks = await receiver();
    const app = (
      await buildApp(
        providerEnv(pg, {
          WEBHOOK_URL: hooks.url,
          WEBHOOK_SECRET: SECRET,
          WEBHOOK_DUPLICATE_RATE: '1',
          WEBHOOK_DELAY_MS: '0',
          WEBHOOK_POLL_MS: '50',
          PAYMENT_DECLINE_RATE: '0',
        }),
      )
    ).app;
    try {
      const res = await app.inject({
        method: 'POST',
        url: '/payments',
        headers: { 'idempotency-key': 'key-webhook' },
        payload: { amountCents: 500, currency: 'EUR', reference: 'hold-w' },
      });
      const paymentId = res.json().id;
      await waitFor('two deliveries', () => hooks.received.length >= 2);
      expect(hooks.received.every((h) => h.valid)).toBe(true);
      expect(hooks.received[0]!.body.id).toBe(hooks.received[1]!.body.id);
      expect(hooks.received[0]!.body).toMatchObject({
        type: 'payment.succeeded',
        data: { payment: { id: paymentId } },
      });
    } finally {
      await app.close();
      await hooks.close();
    }
  });
});
