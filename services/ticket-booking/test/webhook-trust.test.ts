import { signWebhook } from '@sdlab/payment-provider';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { hold } from './support/api.ts';
import { type BookingStack, withBookingStack } from './support/app.ts';
import { user } from './support/auth.ts';
import { WEBHOOK_SECRET } from './support/env.ts';
import { createEvent } from './support/events.ts';

type Stack = BookingStack;

function webhook(stack: Stack, body: object) {
  const raw = JSON.stringify(body);
  return stack.app.inject({
    method: 'POST',
    url: '/webhooks/payments',
    headers: { 'content-type': 'application/json', 'sdlab-signature': signWebhook(WEBHOOK_SECRET, raw) },
    payload: raw,
  });
}

describe('payment webhooks', () => {
  test('a correctly signed webhook settles nothing unless the provider holds that charge under the hold key', async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack({ pg, redis, es }, { booking: { PAYMENT_RETRIES: '0' } }, async (stack) => {
      const { event, seatIds } = await createEvent(stack.app, { priceCents: 5000 });
      // The provider answers 503 to this card: nothing charged, the purchase stays pending.
      const victim = await hold(stack.app, event.id, 'eve', seatIds.slice(0, 2));
      const pending = await stack.app.inject({
        method: 'POST',
        url: `/holds/${victim}/purchase`,
        headers: { ...(await user('eve')), 'idempotency-key': 'forge-key-0001' },
        payload: { paymentMethod: 'pm_card_unavailable' },
      });
      expect(pending.statusCode).toBe(202);

      // Forged with the (public, development) secret: invented payment id.
      const payment = {
        id: 'pay_forged000000000000',
        status: 'succeeded',
        amountCents: 10_000,
        currency: 'EUR',
        reference: victim,
        declineCode: null,
      };
      const forged = await webhook(stack, {
        id: 'evt_forged_1',
        type: 'payment.succeeded',
        data: { payment },
      });
      expect(forged.json()).toEqual({ outcome: 'mismatch' });

      // A real payment id, of another hold, pointed at this one.
      const other = await hold(stack.app, event.id, 'fox', seatIds.slice(2, 3));
      const paid = await stack.app.inject({
        method: 'POST',
        url: `/holds/${other}/purchase`,
        headers: { ...(await user('fox')), 'idempotency-key': 'real-key-000001' },
        payload: { paymentMethod: 'pm_card_visa' },
      });
      expect(paid.statusCode).toBe(201);
      const swapped = await webhook(stack, {
        id: 'evt_forged_2',
        type: 'payment.succeeded',
        data: { payment: { ...payment, id: paid.json().paymentId } },
      });
      expect(swapped.json()).toEqual({ outcome: 'mismatch' });

      const after = await stack.app.inject({
        url: `/purchases/${pending.json().id}`,
        headers: await user('eve'),
      });
      expect(after.json().status).toBe('PENDING');
      const { rows } = await pg.pool.query('SELECT status FROM booking.seats WHERE hold_id = $1', [victim]);
      expect(rows.map((r) => r.status)).toEqual(['HELD', 'HELD']);
    });
  });
});
