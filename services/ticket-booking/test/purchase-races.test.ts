import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { charges, hold, purchase } from './support/api.ts';
import { answerLost, withBookingStack } from './support/app.ts';
import { admin, user } from './support/auth.ts';
import { createEvent } from './support/events.ts';
import { seatStatuses } from './support/seats.ts';

describe('purchase races', () => {
  test('a retry under the same key with another card is refused before the provider; the first charge stands', async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack({ pg, redis, es }, answerLost(1500, 800), async (stack) => {
      const { event, seatIds } = await createEvent(stack.app);
      const seats = seatIds.slice(0, 2);
      const holdId = await hold(stack.app, event.id, 'ana', seats);
      const first = await purchase(stack.app, holdId, 'ana', 'mixed-key-0001', 'pm_card_timeout');
      expect(first.statusCode).toBe(202);
      const other = await purchase(stack.app, holdId, 'ana', 'mixed-key-0001', 'pm_card_visa');
      expect(other.statusCode).toBe(422);
      expect(other.json().code).toBe('SDLAB_BOOKING_IDEMPOTENCY_KEY_MISMATCH');
      // The first charge went through: its webhook confirms the purchase, nothing is refunded.
      await waitFor('the webhook to confirm the purchase', async () => {
        const res = await stack.app.inject({
          url: `/purchases/${first.json().id}`,
          headers: await user('ana'),
        });
        return res.json().status === 'CONFIRMED';
      });
      expect(await seatStatuses(pg.pool, seats)).toEqual(['SOLD', 'SOLD']);
      const charged = await charges(stack.provider.url, holdId);
      expect(charged.map((c) => c.status)).toEqual(['succeeded']);
    });
  });

  test("the provider's 422 for a key it already charged means outcome unknown: the seats stay held until the lookup", async ({
    pg,
    redis,
    es,
  }) => {
    // The earlier charge's webhook comes late: the reconciler is what finds it here.
    await withBookingStack({ pg, redis, es }, { provider: { WEBHOOK_DELAY_MS: '600000' } }, async (stack) => {
      const { event, seatIds } = await createEvent(stack.app, { priceCents: 5000 });
      const holdId = await hold(stack.app, event.id, 'ben', seatIds.slice(0, 1));
      // A charge under the hold's key that does not match this request is already at the provider.
      const prior = await fetch(`${stack.provider.url}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `booking-hold-${holdId}` },
        body: JSON.stringify({ amountCents: 4999, currency: 'EUR', reference: holdId }),
      });
      expect(prior.status).toBe(201);
      const res = await purchase(stack.app, holdId, 'ben', 'conflict-key-01');
      expect(res.statusCode).toBe(202);
      expect(res.json().status).toBe('PENDING');
      expect(await seatStatuses(pg.pool, seatIds.slice(0, 1))).toEqual(['HELD']);
      // The reconciler finds that charge, which does not match the purchase: refunded, seats released.
      const { reconcilePurchases } = await import('../src/domain/purchase-reconciler.ts');
      const counts = await reconcilePurchases({
        pool: pg.pool,
        purchases: stack.app.booking.purchases,
        log: stack.app.log,
        staleAfterMs: 0,
        batch: 10,
        maxAttempts: 3,
        retryBaseMs: 1000,
        maxDelayMs: 1000,
      });
      expect(counts).toEqual({ failed: 1 });
      const after = await stack.app.inject({
        url: `/purchases/${res.json().id}`,
        headers: await user('ben'),
      });
      expect(after.json()).toMatchObject({
        status: 'FAILED',
        failureReason: 'PAYMENT_MISMATCH',
        refundStatus: 'REFUNDED',
      });
      expect(await seatStatuses(pg.pool, seatIds.slice(0, 1))).toEqual(['AVAILABLE']);
    });
  });

  test('two holds bought at once under one key: one is charged, the other gets the coded idempotency error', async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack({ pg, redis, es }, async (stack) => {
      const { event, seatIds } = await createEvent(stack.app);
      for (let round = 0; round < 5; round++) {
        const buyer = `twin-${round}`;
        const a = await hold(stack.app, event.id, buyer, [seatIds[round * 2]!]);
        const b = await hold(stack.app, event.id, buyer, [seatIds[round * 2 + 1]!]);
        const key = `twin-key-${round}-0000`;
        const answers = await Promise.all([
          purchase(stack.app, a, buyer, key),
          purchase(stack.app, b, buyer, key),
        ]);
        const byStatus = answers.map((r) => [r.statusCode, r.json().code ?? r.json().status]).sort();
        expect(byStatus).toEqual([
          [201, 'CONFIRMED'],
          [422, 'SDLAB_BOOKING_IDEMPOTENCY_KEY_REUSED'],
        ]);
        const charged = [
          ...(await charges(stack.provider.url, a)),
          ...(await charges(stack.provider.url, b)),
        ];
        expect(charged).toHaveLength(1);
      }
    });
  });

  test('a hold of a cancelled event, or one whose seats are gone, is never charged', async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack({ pg, redis, es }, async (stack) => {
      const { event, seatIds } = await createEvent(stack.app);
      const lost = await hold(stack.app, event.id, 'cal', seatIds.slice(0, 2));
      // The sweeper released the seats while the hold row was locked (it skips locked holds).
      await pg.pool.query(
        `UPDATE booking.seats SET status = 'AVAILABLE', hold_id = NULL, held_until = NULL WHERE hold_id = $1`,
        [lost],
      );
      const gone = await purchase(stack.app, lost, 'cal', 'lost-seats-key-1');
      expect(gone.statusCode).toBe(410);
      expect(gone.json().code).toBe('SDLAB_BOOKING_HOLD_EXPIRED');
      expect(await charges(stack.provider.url, lost)).toEqual([]);

      const kept = await hold(stack.app, event.id, 'dee', seatIds.slice(2, 3));
      const cancel = await stack.app.inject({
        method: 'PATCH',
        url: `/admin/events/${event.id}`,
        headers: admin,
        payload: { status: 'CANCELLED' },
      });
      expect(cancel.statusCode).toBe(200);
      const refused = await purchase(stack.app, kept, 'dee', 'cancelled-key-1');
      expect(refused.statusCode).toBe(409);
      expect(refused.json().code).toBe('SDLAB_BOOKING_EVENT_NOT_ON_SALE');
      expect(await charges(stack.provider.url, kept)).toEqual([]);
    });
  });
});
