import { test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { withBookingAndWorker } from './support/app.ts';
import { user } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

describe('hold expiry', () => {
  test('an unconfirmed hold is released by the scheduled sweep and the seat can be held again', async ({
    pg,
    redis,
    es,
  }) => {
    // Short hold and sweep interval through config; the test waits for the outcome, not for a time.
    const env = bookingEnv({ pg, redis, es }, { HOLD_TTL_MS: '300', SWEEP_EVERY_MS: '200' });
    await withBookingAndWorker(env, async (app, worker) => {
      const { event, seatIds } = await createEvent(app);
      const seats = seatIds.slice(0, 2);
      const first = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('ann'),
        payload: { seatIds: seats },
      });
      expect(first.statusCode).toBe(201);
      const holdId = first.json().hold.id;
      const lockKey = redis.key(`{ev:${event.id}}:seat:${seats[0]}`);

      const released = await waitFor('the sweep to release the seats', async () => {
        const { rows } = await pg.pool.query('SELECT status FROM booking.holds WHERE id = $1', [holdId]);
        return rows[0].status === 'EXPIRED';
      });
      expect(released).toBe(true);
      const { rows } = await pg.pool.query('SELECT status, hold_id FROM booking.seats WHERE id = ANY($1)', [
        seats,
      ]);
      expect(rows.every((r) => r.status === 'AVAILABLE' && r.hold_id === null)).toBe(true);
      // Tier 1 (the Redis TTL) let the lock go too.
      expect(await redis.client.exists(lockKey)).toBe(0);

      const again = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('ben'),
        payload: { seatIds: seats },
      });
      expect(again.statusCode).toBe(201);
      // An expired hold can no longer be paid for.
      const late = await app.inject({
        method: 'POST',
        url: `/holds/${holdId}/purchase`,
        headers: { ...(await user('ann')), 'idempotency-key': 'late-key-00001' },
        payload: {},
      });
      expect(late.statusCode).toBe(410);
      expect(late.json().code).toBe('SDLAB_BOOKING_HOLD_EXPIRED');
      expect(await worker.kit.metrics.getSingleMetricAsString('sdlab_booking_holds_expired_total')).toMatch(
        / [1-9]\d*$/m,
      );
    });
  });

  test('every Lua script runs on real Redis', async ({ redis }) => {
    const { Redis } = await import('ioredis');
    const { defineScripts } = await import('../src/scripts/index.ts');
    const client = new Redis(redis.url);
    defineScripts(client);
    try {
      const k = (n: string) => redis.key(`{ev:x}:seat:${n}`);
      expect(await client.holdSeats(2, k('1'), k('2'), 'h1', 60_000)).toEqual([]);
      expect(await client.holdSeats(3, k('0'), k('2'), k('3'), 'h2', 60_000)).toEqual([2]);
      expect(await client.exists(k('0'), k('3'))).toBe(0);
      expect(await client.holdSeats(1, k('1'), '', 60_000)).toBe(-1);
      expect(await client.releaseSeats(2, k('1'), k('2'), 'h2')).toBe(0);
      expect(await client.releaseSeats(2, k('1'), k('2'), 'h1')).toBe(2);

      const q = redis.key('{wr:e}:queue');
      const a = redis.key('{wr:e}:admitted');
      const s = redis.key('{wr:e}:seq');
      const now = Date.now();
      expect(await client.joinQueue(q, a, s, 'u1', now, 300_000)).toEqual([1, 1, 1]);
      expect(await client.joinQueue(q, a, s, 'u2', now, 300_000)).toEqual([1, 2, 1]);
      expect(await client.joinQueue(q, a, s, 'u1', now, 300_000)).toEqual([1, 1, 0]);
      expect(await client.admitBatch(q, a, 1, now, 300_000)).toEqual([1, 1]);
      expect(await client.joinQueue(q, a, s, 'u1', now + 1, 300_000)).toEqual([2, now, 0]);
      expect(await client.joinQueue(q, a, s, 'u2', now + 1, 300_000)).toEqual([1, 1, 0]);
    } finally {
      client.disconnect();
    }
  });
});
