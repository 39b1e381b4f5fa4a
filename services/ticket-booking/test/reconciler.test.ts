import { randomUUID } from 'node:crypto';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { reconcilePurchases } from '../src/domain/purchase-reconciler.ts';
import { withBookingStack } from './support/app.ts';
import { user } from './support/auth.ts';
import { createEvent } from './support/events.ts';

describe('purchase reconciler', () => {
  test('never counts a failed refund as refunded, backs off failing rows so others get through, then parks them', async ({
    pg,
    redis,
    es,
  }) => {
    // The charge's webhook comes late: the reconciler is what finds it here.
    await withBookingStack({ pg, redis, es }, { provider: { WEBHOOK_DELAY_MS: '600000' } }, async (stack) => {
      const { app } = stack;
      const { event, seatIds } = await createEvent(app, { priceCents: 5000 });
      // Five purchases whose refund the provider will always refuse (it has no such payment),
      // older than everything else: before, they filled every batch of five, forever.
      for (let i = 0; i < 5; i++) {
        const holdId = randomUUID();
        await pg.pool.query(
          `INSERT INTO booking.holds (id, event_id, user_id, seat_ids, amount_cents, status, expires_at)
           VALUES ($1, $2, 'ghost', '{}', 5000, 'RELEASED', now())`,
          [holdId, event.id],
        );
        await pg.pool.query(
          `INSERT INTO booking.purchases (id, hold_id, event_id, user_id, idempotency_key, amount_cents, status,
             payment_id, refund_status, updated_at)
           VALUES ($1, $2, $3, 'ghost', $4, 5000, 'FAILED', $5, 'PENDING', now() - interval '1 hour')`,
          [randomUUID(), holdId, event.id, `ghost-key-${i}`, `pay_missing_${i}`],
        );
      }
      // One pending purchase whose charge went through while its answer was lost.
      const held = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('gil'),
        payload: { seatIds: [seatIds[0]] },
      });
      const holdId = held.json().hold.id as string;
      await pg.pool.query(
        `INSERT INTO booking.purchases (id, hold_id, event_id, user_id, idempotency_key, amount_cents, status, updated_at)
         VALUES ($1, $2, $3, 'gil', 'gil-key-000001', 5000, 'PENDING', now() - interval '10 minutes')`,
        [randomUUID(), holdId, event.id],
      );
      await fetch(`${stack.provider.url}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `booking-hold-${holdId}` },
        body: JSON.stringify({ amountCents: 5000, currency: 'EUR', reference: holdId }),
      });

      const run = (retryBaseMs: number) =>
        reconcilePurchases({
          pool: pg.pool,
          purchases: app.booking.purchases,
          log: app.log,
          staleAfterMs: 60_000,
          batch: 5,
          maxAttempts: 2,
          retryBaseMs,
          maxDelayMs: retryBaseMs,
        });
      expect(await run(60_000)).toEqual({ refund_failed: 5 });
      // The failing rows wait their backoff; the lost purchase is next.
      expect(await run(60_000)).toEqual({ confirmed: 1 });
      const { rows: sold } = await pg.pool.query('SELECT status FROM booking.seats WHERE id = $1', [
        seatIds[0],
      ]);
      expect(sold[0].status).toBe('SOLD');

      // Due again: the second failure parks them; parked rows are not picked up again.
      await pg.pool.query(
        `UPDATE booking.purchases SET next_reconcile_at = now() - interval '1 s' WHERE user_id = 'ghost'`,
      );
      expect(await run(60_000)).toEqual({ refund_failed: 5, parked: 5 });
      await pg.pool.query(
        `UPDATE booking.purchases SET next_reconcile_at = now() - interval '1 s' WHERE user_id = 'ghost'`,
      );
      expect(await run(60_000)).toEqual({});
      const { rows } = await pg.pool.query(
        `SELECT refund_status, reconcile_attempts, parked_at IS NOT NULL AS parked FROM booking.purchases WHERE user_id = 'ghost'`,
      );
      expect(rows).toEqual(Array(5).fill({ refund_status: 'PENDING', reconcile_attempts: 2, parked: true }));
    });
  });
});
