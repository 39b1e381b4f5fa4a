import { randomUUID } from 'node:crypto';
import { signWebhook } from '@sdlab/payment-provider';
import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { charges, hold, purchase } from './support/api.ts';
import { answerLost, withBookingStack } from './support/app.ts';
import { user } from './support/auth.ts';
import { expectBought } from './support/bought.ts';
import { WEBHOOK_SECRET } from './support/env.ts';
import { createEvent } from './support/events.ts';
import { seatStatuses } from './support/seats.ts';

/** Everything a purchase can change, to compare before and after a retry or a duplicate. */
async function snapshot(pool: import('pg').Pool, holdId: string) {
  const q = async (sql: string) => (await pool.query(sql, [holdId])).rows;
  return {
    purchases: await q(
      'SELECT id, status, failure_reason, payment_id, refund_status FROM booking.purchases WHERE hold_id = $1',
    ),
    hold: await q('SELECT status, expires_at FROM booking.holds WHERE id = $1'),
    seats: await q('SELECT id, status, purchase_id FROM booking.seats WHERE hold_id = $1 ORDER BY id'),
  };
}

describe('purchase', () => {
  test('confirms a hold once: a retried confirm (sequential and concurrent) never charges twice', async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack({ pg, redis, es }, async (stack) => {
      const { app } = stack;
      const { event, seatIds } = await createEvent(stack.app, { priceCents: 2500 });
      const holdId = await hold(app, event.id, 'alice', seatIds.slice(0, 3));
      const responses = await Promise.all(
        [1, 2, 3, 4].map(() => purchase(app, holdId, 'alice', 'confirm-key-1')),
      );
      const statuses = responses.map((r) => r.statusCode).sort();
      expect(statuses).toEqual([200, 200, 200, 201]);
      expect(new Set(responses.map((r) => r.json().id)).size).toBe(1);
      const before = await snapshot(pg.pool, holdId);
      const later = await purchase(app, holdId, 'alice', 'confirm-key-1');
      expect(later.statusCode).toBe(200);
      expect(later.headers['idempotent-replayed']).toBe('true');
      expect(await snapshot(pg.pool, holdId)).toEqual(before);
      await expectBought({ pool: pg.pool, providerUrl: stack.provider.url }, holdId, responses[0]!.json(), {
        amountCents: 7500,
        seatIds: seatIds.slice(0, 3),
      });

      const otherKey = await purchase(app, holdId, 'alice', 'confirm-key-2');
      expect(otherKey.statusCode).toBe(409);
      expect(otherKey.json().code).toBe('SDLAB_BOOKING_HOLD_ALREADY_PURCHASED');
      expect(await charges(stack.provider.url, holdId)).toHaveLength(1);
    });
  });

  test('a declined payment releases the seats (compensation) and a retry answers the same', async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack({ pg, redis, es }, async (stack) => {
      const { app } = stack;
      const { event, seatIds } = await createEvent(app);
      const holdId = await hold(app, event.id, 'bob', seatIds.slice(0, 2));
      const declined = await purchase(app, holdId, 'bob', 'decline-key-1', 'pm_card_declined');
      expect(declined.statusCode).toBe(402);
      expect(declined.json().code).toBe('SDLAB_BOOKING_PAYMENT_DECLINED');
      const again = await purchase(app, holdId, 'bob', 'decline-key-1', 'pm_card_declined');
      expect(again.statusCode).toBe(402);
      expect(await seatStatuses(pg.pool, seatIds.slice(0, 2))).toEqual(['AVAILABLE', 'AVAILABLE']);
      expect(await redis.client.exists(redis.key(`{ev:${event.id}}:seat:${seatIds[0]}`))).toBe(0);
      // The seats are on sale again right away.
      await hold(app, event.id, 'carol', seatIds.slice(0, 2));
    });
  });

  test('a duplicate webhook changes nothing', async ({ pg, redis, es }) => {
    const duplicates = { provider: { WEBHOOK_DUPLICATE_RATE: '1' } };
    await withBookingStack({ pg, redis, es }, duplicates, async (stack) => {
      const { app } = stack;
      const { event, seatIds } = await createEvent(app);
      const holdId = await hold(app, event.id, 'dave', seatIds.slice(0, 1));
      expect((await purchase(app, holdId, 'dave', 'dup-key-0001')).statusCode).toBe(201);
      // The provider delivers the succeeded event twice (rate 1); both are received.
      await waitFor('both deliveries', async () => {
        const { rows } = await pg.pool.query(
          'SELECT count(*)::int AS n FROM payments.webhook_deliveries WHERE delivered_at IS NOT NULL',
        );
        return rows[0].n === 2;
      });
      const { rows: applied } = await pg.pool.query('SELECT event_id FROM booking.payment_webhooks');
      expect(applied).toHaveLength(1);
      const before = await snapshot(pg.pool, holdId);

      // Replayed by hand, correctly signed: still nothing changes.
      const { rows: deliveries } = await pg.pool.query(
        'SELECT body FROM payments.webhook_deliveries LIMIT 1',
      );
      const body = JSON.stringify(deliveries[0].body);
      const replay = await app.inject({
        method: 'POST',
        url: '/webhooks/payments',
        headers: { 'content-type': 'application/json', 'sdlab-signature': signWebhook(WEBHOOK_SECRET, body) },
        payload: body,
      });
      expect(replay.json()).toEqual({ outcome: 'duplicate' });
      expect(await snapshot(pg.pool, holdId)).toEqual(before);

      const forged = await app.inject({
        method: 'POST',
        url: '/webhooks/payments',
        headers: {
          'content-type': 'application/json',
          'sdlab-signature': signWebhook('not-the-secret-at-all', body),
        },
        payload: body,
      });
      expect(forged.statusCode).toBe(401);
      expect(await charges(stack.provider.url, holdId)).toHaveLength(1);
    });
  });

  test('a payment whose answer is lost stays pending, then the webhook settles it; a retry does not charge again', async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack({ pg, redis, es }, answerLost(2000, 600), async (stack) => {
      const { app } = stack;
      const { event, seatIds } = await createEvent(app);
      const holdId = await hold(app, event.id, 'erin', seatIds.slice(0, 2));
      const pending = await purchase(app, holdId, 'erin', 'slow-key-0001', 'pm_card_timeout');
      expect(pending.statusCode).toBe(202);
      expect(pending.json().status).toBe('PENDING');
      const purchaseId = pending.json().id;
      const settled = await waitFor('the webhook to confirm the purchase', async () => {
        const res = await app.inject({ url: `/purchases/${purchaseId}`, headers: await user('erin') });
        return res.json().status === 'CONFIRMED' ? (res.json() as { seatIds: number[] }) : undefined;
      });
      expect(settled.seatIds).toEqual(seatIds.slice(0, 2));
      const retried = await purchase(app, holdId, 'erin', 'slow-key-0001', 'pm_card_timeout');
      expect(retried.statusCode).toBe(200);
      expect(await charges(stack.provider.url, holdId)).toHaveLength(1);
    });
  });

  test('a charge that lands after its hold expired is refunded and the seats stay with their new holder', async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack({ pg, redis, es }, async (stack) => {
      const { app, booking } = stack;
      const { event, seatIds } = await createEvent(app);
      const holdId = await hold(app, event.id, 'fay', seatIds.slice(0, 1));
      // A confirm in progress whose payment has not come back yet ...
      await pg.pool.query(
        `INSERT INTO booking.purchases (id, hold_id, event_id, user_id, idempotency_key, amount_cents, status)
         VALUES ($1, $2, $3, 'fay', 'late-key-0001', 5000, 'PENDING')`,
        [randomUUID(), holdId, event.id],
      );
      // ... while its hold runs out and the sweep gives the seat to someone else.
      await pg.pool.query(`UPDATE booking.seats SET held_until = now() - interval '1 s' WHERE hold_id = $1`, [
        holdId,
      ]);
      const { sweepExpiredHolds } = await import('../src/domain/sweeper.ts');
      expect((await sweepExpiredHolds(pg.pool, booking.app.booking.locks, 100)).seatsReleased).toBe(1);
      await hold(app, event.id, 'gus', seatIds.slice(0, 1));
      // The charge then succeeds at the provider and is applied.
      const charge = await fetch(`${stack.provider.url}/payments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `booking-hold-${holdId}` },
        body: JSON.stringify({ amountCents: 5000, currency: 'EUR', reference: holdId }),
      });
      const payment = (await charge.json()) as Parameters<
        typeof booking.app.booking.purchases.applyPayment
      >[1];
      const after = await booking.app.booking.purchases.applyPayment(holdId, payment);
      expect(after).toMatchObject({
        kind: 'settled',
        purchase: { status: 'FAILED', failureReason: 'HOLD_EXPIRED', refundStatus: 'REFUNDED' },
      });
      expect((await charges(stack.provider.url, holdId))[0]!.status).toBe('refunded');
      const { rows } = await pg.pool.query('SELECT status, hold_id FROM booking.seats WHERE id = $1', [
        seatIds[0],
      ]);
      expect(rows[0].status).toBe('HELD');
      expect(rows[0].hold_id).not.toBe(holdId);
    });
  });

  test('the store unreachable after the charge: 202 pending, never a 500; the webhook then settles it once', async ({
    pg,
    redis,
    es,
  }) => {
    const options = {
      booking: { PG_POOL_MAX: '2', PG_CONNECT_TIMEOUT_MS: '300' },
      provider: { PAYMENT_LATENCY_MS: '1500', PAYMENT_LATENCY_JITTER_MS: '0', WEBHOOK_DELAY_MS: '1500' },
    };
    await withBookingStack({ pg, redis, es }, options, async (stack) => {
      const { app } = stack;
      const { event, seatIds } = await createEvent(app, { priceCents: 1200 });
      const holdId = await hold(app, event.id, 'dora', seatIds.slice(0, 2));
      const buying = purchase(app, holdId, 'dora', 'outage-key');
      // Step 1 has committed (the purchase row exists) and the charge is at the provider: take
      // every connection of booking's pool, so recording the payment cannot get one.
      await waitFor('the pending purchase', async () => {
        const { rows } = await pg.pool.query('SELECT 1 FROM booking.purchases WHERE hold_id = $1', [holdId]);
        return rows.length === 1;
      });
      const taken = [];
      while (taken.length < 2) taken.push(await app.pg.connect().catch(() => undefined));
      let answer: Awaited<typeof buying>;
      try {
        answer = await buying;
      } finally {
        for (const client of taken) client?.release();
      }
      expect(answer.statusCode).toBe(202);
      expect(answer.json()).toMatchObject({ status: 'PENDING', amountCents: 2400 });

      const confirmed = await waitFor('the webhook to confirm the purchase', async () => {
        const { rows } = await pg.pool.query('SELECT status FROM booking.purchases WHERE hold_id = $1', [
          holdId,
        ]);
        return rows[0]?.status === 'CONFIRMED' ? rows[0] : undefined;
      });
      expect(confirmed.status).toBe('CONFIRMED');
      const { rows: seats } = await pg.pool.query('SELECT status FROM booking.seats WHERE hold_id = $1', [
        holdId,
      ]);
      expect(seats.map((s) => s.status)).toEqual(['SOLD', 'SOLD']);
      expect(await charges(stack.provider.url, holdId)).toHaveLength(1);
      const again = await purchase(app, holdId, 'dora', 'outage-key');
      expect(again.statusCode).toBe(200);
      expect(again.json().status).toBe('CONFIRMED');
    });
  });
});
