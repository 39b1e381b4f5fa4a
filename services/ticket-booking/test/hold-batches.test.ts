import { startPrivateRedis, test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { startBooking } from './support/app.ts';
import { user } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

describe('hold batches (group commit)', () => {
  // Redis is stopped before the burst, so no seat lock turns anyone away: every hold reaches the
  // batches, overlapping ones included, and Postgres alone decides. Holds of one user that would
  // all find free seats test the per-user cap across concurrent batches.
  test('a burst of overlapping holds shares statements and still holds each seat once, all or nothing, within the cap', async ({
    pg,
    redis,
    es,
  }) => {
    const privateRedis = await startPrivateRedis();
    const service = await startBooking(
      bookingEnv({ pg, redis, es }, { REDIS_URL: privateRedis.url, REDIS_FAILURE_POLICY: 'db-only' }),
    );
    const { app } = service;
    try {
      const { event, seatIds } = await createEvent(app, {
        sections: [
          { name: 'Floor', rows: 4, seatsPerRow: 10 },
          { name: 'Balcony', rows: 1, seatsPerRow: 80 },
        ],
      });
      const floor = seatIds.slice(0, 40);
      const balcony = seatIds.slice(40, 120);
      await privateRedis.kill();

      type Ask = { userId: string; seatIds: number[] };
      const asks: Ask[] = [];
      // 120 buyers for 1-3 adjacent seats of 40: most of them collide.
      for (let i = 0; i < 120; i++) {
        const size = 1 + (i % 3);
        const start = (i * 7) % (floor.length - size);
        asks.push({ userId: `crowd-${i}`, seatIds: floor.slice(start, start + size) });
      }
      // 4 buyers sending 20 holds each, every one for a free seat of its own: the cap (5) decides.
      for (let u = 0; u < 4; u++) {
        for (let k = 0; k < 20; k++) asks.push({ userId: `greedy-${u}`, seatIds: [balcony[u * 20 + k]!] });
      }
      const answers = await Promise.all(
        asks.map(async (ask) => {
          const res = await app.inject({
            method: 'POST',
            url: `/events/${event.id}/holds`,
            headers: await user(ask.userId),
            payload: { seatIds: ask.seatIds },
          });
          return { ask, status: res.statusCode, body: res.json(), type: String(res.headers['content-type']) };
        }),
      );

      // What clients were told: a hold, or a coded refusal naming seats they asked for.
      const told = new Map<string, Ask>();
      for (const a of answers) {
        if (a.status === 201) {
          told.set(a.body.hold.id, a.ask);
          expect(a.body.hold.seatIds).toEqual(a.ask.seatIds);
          continue;
        }
        expect(a.status).toBe(409);
        expect(a.type).toContain('application/problem+json');
        if (a.body.code === 'SDLAB_BOOKING_SEATS_TAKEN') {
          expect(a.body.takenSeatIds.length).toBeGreaterThan(0);
          for (const id of a.body.takenSeatIds) expect(a.ask.seatIds).toContain(id);
        } else {
          expect(a.body.code).toBe('SDLAB_BOOKING_TOO_MANY_ACTIVE_HOLDS');
        }
      }

      // The stored data: every hold a client was told about, and no other, with all its seats.
      const { rows: holds } = await pg.pool.query<{ id: string; user_id: string; seat_ids: string[] }>(
        `SELECT id, user_id, seat_ids FROM booking.holds WHERE event_id = $1 AND status = 'ACTIVE'`,
        [event.id],
      );
      expect(new Set(holds.map((h) => h.id))).toEqual(new Set(told.keys()));
      const { rows: held } = await pg.pool.query<{ id: string; hold_id: string }>(
        `SELECT id, hold_id FROM booking.seats WHERE event_id = $1 AND status = 'HELD'`,
        [event.id],
      );
      const holderOf = new Map(held.map((s) => [Number(s.id), s.hold_id]));
      let seatsInHolds = 0;
      for (const h of holds) {
        for (const id of h.seat_ids) expect(holderOf.get(Number(id))).toBe(h.id);
        seatsInHolds += h.seat_ids.length;
      }
      // No seat in two holds, and no held seat without its hold.
      expect(held.length).toBe(seatsInHolds);
      expect(new Set(holds.flatMap((h) => h.seat_ids)).size).toBe(seatsInHolds);

      // The cap: exactly 5 of each greedy buyer's 20 holds, the other 15 refused for the cap.
      for (let u = 0; u < 4; u++) {
        const mine = holds.filter((h) => h.user_id === `greedy-${u}`).length;
        const capped = answers.filter(
          (a) => a.ask.userId === `greedy-${u}` && a.body.code === 'SDLAB_BOOKING_TOO_MANY_ACTIVE_HOLDS',
        ).length;
        expect([mine, capped]).toEqual([5, 15]);
      }
      const crowdHolds = holds.filter((h) => h.user_id.startsWith('crowd-')).length;
      expect(crowdHolds).toBeGreaterThan(0);
      expect(answers.filter((a) => a.body.code === 'SDLAB_BOOKING_SEATS_TAKEN').length).toBeGreaterThan(0);

      // And the burst did go through shared statements.
      const sizes = await service.app.kit.metrics.getSingleMetricAsString('sdlab_booking_hold_batch_size');
      const alone = Number(/sdlab_booking_hold_batch_size_bucket\{le="1"[^}]*\} (\d+)/.exec(sizes)?.[1]);
      const all = Number(/sdlab_booking_hold_batch_size_count\{[^}]*\} (\d+)/.exec(sizes)?.[1]);
      console.log('hold batches:', { holds: holds.length, crowdHolds, decided: all, alone });
      expect(all).toBe(asks.length);
      expect(alone).toBeLessThan(all);
    } finally {
      await app.close();
      await privateRedis.kill().catch(() => undefined);
    }
  });
});
