import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { startBooking, withBookingStack } from './support/app.ts';
import { user } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

/**
 * A provider that misbehaves on the wire (the simulated provider cannot): it answers charges by
 * `answer` and lists no payments.
 */
async function misbehavingProvider(
  answer: (res: import('node:http').ServerResponse, reference: string) => void,
) {
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/payments') return answer(res, JSON.parse(raw).reference);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[]}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function purchaseThrough(
  provider: { url: string },
  fx: Parameters<typeof bookingEnv>[0],
): Promise<{ statusCode: number; status: string; ms: number }> {
  const { app } = await startBooking(
    bookingEnv(fx, { PAYMENT_PROVIDER_URL: provider.url, PAYMENT_TIMEOUT_MS: '300', PAYMENT_RETRIES: '0' }),
  );
  try {
    const { event, seatIds } = await createEvent(app);
    const held = await app.inject({
      method: 'POST',
      url: `/events/${event.id}/holds`,
      headers: await user('kim'),
      payload: { seatIds: [seatIds[0]] },
    });
    const started = performance.now();
    const res = await Promise.race([
      app.inject({
        method: 'POST',
        url: `/holds/${held.json().hold.id}/purchase`,
        headers: { ...(await user('kim')), 'idempotency-key': 'client-key-0001' },
        payload: { paymentMethod: 'pm_card_visa' },
      }),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('purchase still waiting after 10 s')), 10_000),
      ),
    ]);
    return { statusCode: res.statusCode, status: res.json().status, ms: performance.now() - started };
  } finally {
    await app.close();
  }
}

describe('payment client', () => {
  test('a provider that trickles its answer is cut off at the deadline: outcome unknown, purchase pending', async ({
    pg,
    redis,
    es,
  }) => {
    const provider = await misbehavingProvider((res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.write('{"id":"pay_slow"');
      // A byte every 50 ms: the socket is never idle for the 300 ms timeout.
      const drip = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(drip));
    });
    try {
      const result = await purchaseThrough(provider, { pg, redis, es });
      expect(result).toMatchObject({ statusCode: 202, status: 'PENDING' });
    } finally {
      await provider.close();
    }
  });

  test('an answer larger than the cap is not read: outcome unknown, purchase pending', async ({
    pg,
    redis,
    es,
  }) => {
    const provider = await misbehavingProvider((res, reference) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'pay_big',
          status: 'succeeded',
          amountCents: 5000,
          currency: 'EUR',
          reference,
          declineCode: null,
          padding: 'x'.repeat(2_000_000),
        }),
      );
    });
    try {
      const result = await purchaseThrough(provider, { pg, redis, es });
      expect(result).toMatchObject({ statusCode: 202, status: 'PENDING' });
    } finally {
      await provider.close();
    }
  });

  test("sends the provider's API key: a provider that requires it charges", async ({ pg, redis, es }) => {
    const key = 'test-provider-api-key-0123456789';
    const keyed = {
      provider: { API_KEY: key, API_KEY_OPTIONAL: 'false' },
      booking: { PAYMENT_PROVIDER_API_KEY: key },
    };
    await withBookingStack({ pg, redis, es }, keyed, async (stack) => {
      const { event, seatIds } = await createEvent(stack.app);
      const held = await stack.app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('lea'),
        payload: { seatIds: [seatIds[0]] },
      });
      const bought = await stack.app.inject({
        method: 'POST',
        url: `/holds/${held.json().hold.id}/purchase`,
        headers: { ...(await user('lea')), 'idempotency-key': 'api-key-test-01' },
        payload: { paymentMethod: 'pm_card_visa' },
      });
      expect(bought.statusCode).toBe(201);
      expect(bought.json().status).toBe('CONFIRMED');
    });
  });
});
