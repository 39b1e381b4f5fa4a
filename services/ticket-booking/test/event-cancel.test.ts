import { test } from '@sdlab/testkit';
import type pg from 'pg';
import { describe, expect } from 'vitest';
import { hold, purchase } from './support/api.ts';
import { withBookingStack } from './support/app.ts';
import { admin, user } from './support/auth.ts';
import { createEvent } from './support/events.ts';
import { checkInvariants, waitAllSettled } from './support/invariants.ts';

const CAP = 3;

async function cancelEvent(app: Parameters<typeof hold>[0], eventId: string) {
  return app.inject({
    method: 'PATCH',
    url: `/admin/events/${eventId}`,
    headers: admin,
    payload: { status: 'CANCELLED' },
  });
}

/** Seats HELD or SOLD under a hold that was released, and kept charges for released holds. */
async function releasedButKept(pool: pg.Pool, eventId: string) {
  const { rows: seats } = await pool.query<{ id: string; status: string }>(
    `SELECT s.id, s.status FROM booking.seats s JOIN booking.holds h ON h.id = s.hold_id
     WHERE s.event_id = $1 AND h.status = 'RELEASED' AND s.status IN ('HELD', 'SOLD')`,
    [eventId],
  );
  const { rows: charges } = await pool.query<{ reference: string }>(
    `SELECT p.reference FROM payments.payments p JOIN booking.holds h ON h.id::text = p.reference
     WHERE h.event_id = $1 AND h.status = 'RELEASED' AND p.status = 'succeeded'`,
    [eventId],
  );
  return { seats, charges };
}

describe('cancelling an event', () => {
  test("releases its active holds at once: their seats and their users' cap of open holds", async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack(
      { pg, redis, es },
      { booking: { HOLD_MAX_ACTIVE_PER_USER: String(CAP) } },
      async (stack) => {
        const a = await createEvent(stack.app);
        const b = await createEvent(stack.app);
        const users = ['cara', 'dan'];
        const holdsOnA = new Map<string, string[]>();
        for (const [u, name] of users.entries()) {
          const ids: string[] = [];
          for (let i = 0; i < CAP; i++)
            ids.push(await hold(stack.app, a.event.id, name, [a.seatIds[u * CAP + i]!]));
          holdsOnA.set(name, ids);
        }
        // At the cap: no hold anywhere else while A's holds are open.
        await expect(hold(stack.app, b.event.id, 'cara', [b.seatIds[0]!])).rejects.toThrow(/409/);

        const cancelled = await cancelEvent(stack.app, a.event.id);
        expect(cancelled.statusCode).toBe(200);
        expect(cancelled.json().status).toBe('CANCELLED');

        // At once, not after the holds' 10 minutes: each user holds up to the cap on B.
        for (const [u, name] of users.entries()) {
          for (let i = 0; i < CAP; i++) await hold(stack.app, b.event.id, name, [b.seatIds[u * CAP + i]!]);
        }
        for (const [name, ids] of holdsOnA) {
          for (const id of ids) {
            const res = await stack.app.inject({ url: `/holds/${id}`, headers: await user(name) });
            expect(res.json().status).toBe('RELEASED');
          }
        }
        const seats = await stack.app.inject({ url: `/events/${a.event.id}/seats?status=HELD&limit=1000` });
        expect(seats.json().data).toEqual([]);
        const metrics = await stack.app.inject({ url: '/metrics' });
        expect(metrics.body).toMatch(
          new RegExp(
            `^sdlab_booking_holds_released_total\\{reason="event_cancelled"[^}]*\\} ${users.length * CAP}$`,
            'm',
          ),
        );
        // A purchase of a released hold of the cancelled event is refused, nothing charged.
        const late = await purchase(stack.app, holdsOnA.get('cara')![0]!, 'cara', 'after-cancel-01');
        expect(late.statusCode).toBe(409);
        expect(late.json().code).toBe('SDLAB_BOOKING_EVENT_NOT_ON_SALE');
        expect(await releasedButKept(pg.pool, a.event.id)).toEqual({ seats: [], charges: [] });
      },
    );
  });

  test('racing holds and purchases: no released hold keeps a seat or a charge', async ({ pg, redis, es }) => {
    // Charges take ~150 ms, so some are in flight when the event is cancelled.
    await withBookingStack(
      { pg, redis, es },
      { provider: { PAYMENT_LATENCY_MS: '150', PAYMENT_LATENCY_JITTER_MS: '100' } },
      async (stack) => {
        const { event, seatIds } = await createEvent(stack.app);
        const buyers = Array.from({ length: 12 }, (_, i) => `racer-${i}`);
        // Every buyer holds two seats; the first 24 seats are taken, the rest stays for racing holds.
        const held = await Promise.all(
          buyers.map(async (name, i) => ({
            name,
            holdId: await hold(stack.app, event.id, name, seatIds.slice(2 * i, 2 * i + 2)),
          })),
        );
        const outcomes: number[] = [];
        const purchases = held.map(async ({ name, holdId }, i) => {
          await new Promise((resolve) => setTimeout(resolve, i * 15));
          const res = await purchase(stack.app, holdId, name, `race-key-${i}`);
          outcomes.push(res.statusCode);
        });
        const moreHolds = buyers.map(async (name, i) => {
          await new Promise((resolve) => setTimeout(resolve, i * 12));
          const res = await stack.app.inject({
            method: 'POST',
            url: `/events/${event.id}/holds`,
            headers: await user(name),
            payload: { seatIds: [seatIds[24 + i]!] },
          });
          outcomes.push(res.statusCode);
        });
        const cancel = (async () => {
          await new Promise((resolve) => setTimeout(resolve, 90));
          return cancelEvent(stack.app, event.id);
        })();
        await Promise.all([...purchases, ...moreHolds]);
        expect((await cancel).statusCode).toBe(200);
        // Every purchase ended confirmed or refused (409 not on sale, or its own refusal), none 5xx.
        expect(outcomes.every((s) => s < 500)).toBe(true);
        await waitAllSettled(pg.pool);

        expect(await releasedButKept(pg.pool, event.id)).toEqual({ seats: [], charges: [] });
        // The contention test's guarantees hold too: every seat in one state, the sold ones those
        // of the confirmed purchases, the kept charges exactly theirs.
        await checkInvariants(pg.pool, event.id, seatIds.length);
        const { rows } = await pg.pool.query<{ status: string; n: number }>(
          'SELECT status, count(*)::int AS n FROM booking.holds WHERE event_id = $1 GROUP BY status',
          [event.id],
        );
        // The race did happen: the cancel released holds. And no hold was left open on the
        // cancelled event, not even one admitted before the cancel and stored after it.
        expect(rows.find((r) => r.status === 'RELEASED')?.n ?? 0).toBeGreaterThan(0);
        expect(rows.find((r) => r.status === 'ACTIVE')).toBeUndefined();
      },
    );
  });
});
