import { randomUUID } from 'node:crypto';
import { inTransaction } from '@sdlab/service-kit/postgres';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { holdSeatsBatch, lockBatch } from '../src/domain/seat-states.ts';
import { hold, purchase } from './support/api.ts';
import { startBooking, withBookingStack } from './support/app.ts';
import { user } from './support/auth.ts';
import { expectBought } from './support/bought.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';
import { checkInvariants, waitAllSettled } from './support/invariants.ts';
import { withTwoInstances } from './support/two-instances.ts';

interface Answer {
  status: number;
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies of several shapes, read loosely
  body: any;
}

async function post(url: string, userId: string, body: unknown): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { ...(await user(userId)), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, type: String(res.headers.get('content-type')), body: await res.json() };
}

/** Seats of the event by status, and which hold each HELD or SOLD seat belongs to. */
async function seatRows(pool: import('pg').Pool, eventId: string) {
  const { rows } = await pool.query<{ id: string; section: string; status: string; hold_id: string | null }>(
    'SELECT id, section, status, hold_id FROM booking.seats WHERE event_id = $1 ORDER BY id',
    [eventId],
  );
  return rows.map((r) => ({ ...r, id: Number(r.id) }));
}

describe('best-available holds', () => {
  // Two booking processes hand out the seats of one event to buyers who name none: each batch
  // picks free seats no other transaction has locked, so nobody collides, the event fills up
  // exactly, and the late buyers are told it is sold out.
  test('two instances, 100 concurrent buyers of one seat each for 60 seats: 60 holds, no seat twice, 40 sold out; bought holds sell their seats', async ({
    pg,
    redis,
    es,
  }) => {
    const options = {
      sections: [
        { name: 'Floor', rows: 4, seatsPerRow: 10 },
        { name: 'Balcony', rows: 2, seatsPerRow: 10 },
      ],
      provider: { PAYMENT_DECLINE_RATE: '0.2', WEBHOOK_DUPLICATE_RATE: '0.5' },
      booking: { PG_POOL_MAX: '10' },
    };
    await withTwoInstances({ pg, redis, es }, options, async ({ urls, event, seatIds }) => {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          post(`${urls[i % 2]}/events/${event.id}/holds/best-available`, `fan-${i}`, {
            quantity: 1,
          }),
        ),
      );
      const held = answers.filter((a) => a.status === 201);
      const refused = answers.filter((a) => a.status !== 201);
      // Every seat went to someone, nobody got a seat twice, and the rest were told it is sold out.
      expect(held).toHaveLength(60);
      for (const a of refused) {
        expect(a.status).toBe(409);
        expect(a.type).toContain('application/problem+json');
        expect(a.body.code).toBe('SDLAB_BOOKING_SOLD_OUT');
      }
      const given = held.map((a) => a.body.seats[0].id as number);
      expect(new Set(given).size).toBe(60);
      expect(new Set(given)).toEqual(new Set(seatIds));
      // The answers name the seats the stored holds have.
      const stored = await seatRows(pg.pool, event.id);
      const holderOf = new Map(stored.map((s) => [s.id, s.hold_id]));
      for (const a of held) {
        expect(a.body.hold.seatIds).toEqual([a.body.seats[0].id]);
        expect(holderOf.get(a.body.seats[0].id)).toBe(a.body.hold.id);
        expect(a.body.seats[0]).toMatchObject({ section: expect.any(String), row: expect.any(Number) });
      }

      // A third of the holders buy, on the other instance than the one that held; a fifth of the
      // charges are declined (seats back on sale) and half the webhooks come twice.
      const buying = held.filter((_, i) => i % 3 === 0);
      const bought = await Promise.all(
        buying.map(async (a, i) => {
          const res = await fetch(`${urls[(i + 1) % 2]}/holds/${a.body.hold.id}/purchase`, {
            method: 'POST',
            headers: {
              ...(await user(a.body.hold.userId)),
              'idempotency-key': randomUUID(),
              'content-type': 'application/json',
            },
            body: JSON.stringify({ paymentMethod: 'pm_card_visa' }),
          });
          return { status: res.status, body: (await res.json()) as { id: string } };
        }),
      );
      for (const b of bought) expect([201, 402]).toContain(b.status);
      await waitAllSettled(pg.pool);
      const state = await checkInvariants(pg.pool, event.id, seatIds.length, {
        counts: {},
        confirmed: new Set(bought.filter((b) => b.status === 201).map((b) => b.body.id)),
        unexpected: [],
      });
      console.log(
        'best-available:',
        JSON.stringify({ holds: held.length, refused: refused.length, ...state }),
      );
      expect(state.sold).toBe(bought.filter((b) => b.status === 201).length);
      expect(state.sold + state.held).toBe(60 - bought.filter((b) => b.status === 402).length);
    });
  });

  // One batch statement with seat holds and best-available holds, called directly so the batch
  // is known: named seats go to their holds and never to a pick, picks go best first in arrival
  // order, each all or nothing, one that does not fit is skipped for a later smaller one, and a
  // user at the cap neither gets nor uses up seats.
  test('a mixed batch: named seats stay with their holds, picks are best first and all or nothing, within the cap', async ({
    pg,
    redis,
    es,
  }) => {
    const { app } = await startBooking(bookingEnv({ pg, redis, es }));
    try {
      const { event, seatIds: s } = await createEvent(app, {
        sections: [{ name: 'Floor', rows: 1, seatsPerRow: 12 }],
      });
      // The capped user already has the 5 open holds the cap allows (on seats 10-11, and 3 more).
      const other = await createEvent(app, { sections: [{ name: 'Floor', rows: 1, seatsPerRow: 5 }] });
      for (const id of other.seatIds) await hold(app, other.event.id, 'capped', [id]);
      await hold(app, event.id, 'early', [s[10]!, s[11]!]);

      const ask = (userId: string) => ({ holdId: randomUUID(), eventId: event.id, userId });
      const asks = [
        { kind: 'best-available' as const, ...ask('b2'), quantity: 2 },
        { kind: 'seats' as const, ...ask('named-1'), seatIds: [s[0]!, s[1]!] },
        { kind: 'best-available' as const, ...ask('capped'), quantity: 1 },
        { kind: 'best-available' as const, ...ask('b3'), quantity: 3 },
        { kind: 'seats' as const, ...ask('named-2'), seatIds: [s[4]!] },
        { kind: 'seats' as const, ...ask('named-late'), seatIds: [s[11]!] },
        { kind: 'best-available' as const, ...ask('b-too-many'), quantity: 4 },
        { kind: 'best-available' as const, ...ask('b1'), quantity: 1 },
      ];
      const outcomes = await inTransaction(pg.pool, async (client) => {
        await lockBatch(client, asks);
        return holdSeatsBatch(client, asks, { ttlMs: 600_000, maxOpenHolds: 5 });
      });
      const seatsOf = (i: number) => outcomes[i]!.seats.map((x) => x.id);
      // Free after the named holds: s2, s3, s5..s9 (7 seats), handed out in arrival order.
      expect(seatsOf(1)).toEqual([s[0], s[1]]);
      expect(seatsOf(4)).toEqual([s[4]]);
      expect(seatsOf(0)).toEqual([s[2], s[3]]);
      expect(seatsOf(3)).toEqual([s[5], s[6], s[7]]);
      expect(outcomes[6]!.hold).toBeUndefined(); // 4 asked, 2 left
      expect(seatsOf(6)).toEqual([]);
      expect(seatsOf(7)).toEqual([s[8]]); // the smaller one after it still fits
      expect(outcomes[2]!.hold).toBeUndefined();
      expect(outcomes[2]!.openHolds).toBe(5);
      expect(outcomes[5]!.hold).toBeUndefined();
      expect(outcomes[5]!.missing).toEqual([s[11]]);
      for (const i of [0, 1, 3, 4, 7]) {
        expect(outcomes[i]!.hold!.seat_ids.map(Number)).toEqual(seatsOf(i));
        expect(Number(outcomes[i]!.hold!.amount_cents)).toBe(5000 * seatsOf(i).length);
      }
      // The stored data agrees: the holds that won and no other, s9 still free.
      const stored = await seatRows(pg.pool, event.id);
      for (const i of [0, 1, 3, 4, 7]) {
        for (const id of seatsOf(i)) expect(stored.find((x) => x.id === id)?.hold_id).toBe(asks[i]!.holdId);
      }
      expect(stored.filter((x) => x.status === 'AVAILABLE').map((x) => x.id)).toEqual([s[9]]);
      const { rows: holds } = await pg.pool.query('SELECT id FROM booking.holds WHERE event_id = $1', [
        event.id,
      ]);
      expect(holds).toHaveLength(6);
    } finally {
      await app.close();
    }
  });

  // Through the API, in one process: seat holds, best-available holds of the whole event and of
  // one section, and one greedy user, all at once, so the batches mix them.
  test('a burst of seat holds and best-available holds shares batches: no seat twice, every hold complete, section and cap kept', async ({
    pg,
    redis,
    es,
  }) => {
    const service = await startBooking(bookingEnv({ pg, redis, es }));
    const { app } = service;
    try {
      const { event, seatIds } = await createEvent(app, {
        sections: [
          { name: 'Floor', rows: 3, seatsPerRow: 10 },
          { name: 'Balcony', rows: 2, seatsPerRow: 10 },
          { name: 'Box', rows: 2, seatsPerRow: 20 },
        ],
      });
      const floor = seatIds.slice(0, 30);
      type Ask = { userId: string; body: { seatIds: number[] } | { quantity: number; section?: string } };
      const asks: Ask[] = [];
      // One user asking 12 times in the Box (40 seats, which the others reach last if at all).
      for (let k = 0; k < 12; k++) asks.push({ userId: 'greedy', body: { quantity: 1, section: 'Box' } });
      for (let i = 0; i < 30; i++) {
        const size = 1 + (i % 3);
        const start = (i * 7) % (floor.length - size);
        asks.push({ userId: `picker-${i}`, body: { seatIds: floor.slice(start, start + size) } });
        if (i < 20) asks.push({ userId: `any-${i}`, body: { quantity: 1 + (i % 2) } });
        if (i < 15)
          asks.push({ userId: `balcony-${i}`, body: { quantity: 1 + (i % 2), section: 'Balcony' } });
      }
      const answers = await Promise.all(
        asks.map(async (ask) => {
          const named = 'seatIds' in ask.body;
          const res = await app.inject({
            method: 'POST',
            url: `/events/${event.id}/holds${named ? '' : '/best-available'}`,
            headers: await user(ask.userId),
            payload: ask.body,
          });
          return { ask, status: res.statusCode, body: res.json(), type: String(res.headers['content-type']) };
        }),
      );
      const stored = await seatRows(pg.pool, event.id);
      const { rows: holds } = await pg.pool.query<{ id: string; user_id: string; seat_ids: string[] }>(
        `SELECT id, user_id, seat_ids FROM booking.holds WHERE event_id = $1 AND status = 'ACTIVE'`,
        [event.id],
      );
      const told = answers.filter((a) => a.status === 201);
      expect(new Set(holds.map((h) => h.id))).toEqual(new Set(told.map((a) => a.body.hold.id)));
      for (const a of told) {
        const ids: number[] = a.body.hold.seatIds;
        if ('seatIds' in a.ask.body) expect(ids).toEqual(a.ask.body.seatIds);
        else {
          expect(ids).toHaveLength(a.ask.body.quantity);
          if (a.ask.body.section) {
            for (const seat of a.body.seats) expect(seat.section).toBe(a.ask.body.section);
          }
        }
        for (const id of ids) expect(stored.find((x) => x.id === id)?.hold_id).toBe(a.body.hold.id);
      }
      const claimed = holds.flatMap((h) => h.seat_ids.map(Number));
      expect(new Set(claimed).size).toBe(claimed.length);
      expect(stored.filter((x) => x.status === 'HELD')).toHaveLength(claimed.length);
      for (const a of answers.filter((x) => x.status !== 201)) {
        expect(a.status).toBe(409);
        expect(a.type).toContain('application/problem+json');
        expect([
          'SDLAB_BOOKING_SEATS_TAKEN',
          'SDLAB_BOOKING_SOLD_OUT',
          'SDLAB_BOOKING_TOO_MANY_ACTIVE_HOLDS',
        ]).toContain(a.body.code);
      }
      // The greedy user: exactly the cap.
      const greedy = answers.filter((a) => a.ask.userId === 'greedy');
      expect(greedy.filter((a) => a.status === 201)).toHaveLength(5);
      expect(greedy.filter((a) => a.body.code === 'SDLAB_BOOKING_TOO_MANY_ACTIVE_HOLDS')).toHaveLength(7);
      // 20 Balcony seats for 15 buyers of 1-2 (22 seats): some of them are told it is sold out.
      expect(
        answers.some((a) => a.ask.userId.startsWith('balcony-') && a.body.code === 'SDLAB_BOOKING_SOLD_OUT'),
      ).toBe(true);
      const sizes = await app.kit.metrics.getSingleMetricAsString('sdlab_booking_hold_batch_size');
      const alone = Number(/sdlab_booking_hold_batch_size_bucket\{le="1"[^}]*\} (\d+)/.exec(sizes)?.[1]);
      const all = Number(/sdlab_booking_hold_batch_size_count\{[^}]*\} (\d+)/.exec(sizes)?.[1]);
      console.log('best-available burst:', {
        holds: holds.length,
        seats: claimed.length,
        decided: all,
        alone,
      });
      // Every best-available hold reached a batch (seat holds refused by a Redis lock do not).
      expect(all).toBeGreaterThanOrEqual(asks.filter((a) => !('seatIds' in a.body)).length);
      expect(alone).toBeLessThan(all);
    } finally {
      await app.close();
    }
  });

  test('best first, in a section if named; a bought one sells its seats; validation and unknown sections', async ({
    pg,
    redis,
    es,
  }) => {
    await withBookingStack({ pg, redis, es }, async (stack) => {
      const { app } = stack;
      const { event, seatIds } = await createEvent(app, {
        sections: [
          { name: 'Floor', rows: 2, seatsPerRow: 5 },
          { name: 'Balcony', rows: 2, seatsPerRow: 5 },
        ],
        priceCents: 3000,
      });
      const best = (userId: string, body: Record<string, unknown>) =>
        user(userId).then((headers) =>
          app.inject({
            method: 'POST',
            url: `/events/${event.id}/holds/best-available`,
            headers,
            payload: body,
          }),
        );
      await hold(app, event.id, 'early', [seatIds[0]!]);
      const first = await best('ann', { quantity: 3 });
      expect(first.statusCode).toBe(201);
      expect(first.json().seats).toEqual([
        { id: seatIds[1], section: 'Floor', row: 1, number: 2, priceCents: 3000 },
        { id: seatIds[2], section: 'Floor', row: 1, number: 3, priceCents: 3000 },
        { id: seatIds[3], section: 'Floor', row: 1, number: 4, priceCents: 3000 },
      ]);
      expect(first.json().hold).toMatchObject({
        status: 'ACTIVE',
        amountCents: 9000,
        seatIds: seatIds.slice(1, 4),
      });
      const balcony = await best('bob', { quantity: 2, section: 'Balcony' });
      expect(balcony.json().hold.seatIds).toEqual(seatIds.slice(10, 12));

      // Bought like any hold.
      const holdId = first.json().hold.id;
      const bought = await purchase(app, holdId, 'ann', randomUUID(), 'pm_card_approved');
      expect(bought.statusCode).toBe(201);
      await expectBought({ pool: pg.pool, providerUrl: stack.provider.url }, holdId, bought.json(), {
        amountCents: 9000,
        seatIds: seatIds.slice(1, 4),
      });

      // 8 Balcony seats left: 9 is sold out, 8 is not.
      const tooMany = await best('cid', { quantity: 9, section: 'Balcony' });
      expect(tooMany.statusCode).toBe(409);
      expect(tooMany.headers['content-type']).toContain('application/problem+json');
      expect(tooMany.json().code).toBe('SDLAB_BOOKING_SOLD_OUT');
      expect((await best('cid', { quantity: 8, section: 'Balcony' })).statusCode).toBe(201);

      const unknown = await best('dan', { quantity: 1, section: 'Roof' });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().code).toBe('SDLAB_BOOKING_SECTION_NOT_FOUND');
      const zero = await best('dan', { quantity: 0 });
      expect(zero.statusCode).toBe(400);
      expect(zero.json().errors[0].field).toBe('body.quantity');
      const overMax = await best('dan', { quantity: 11 });
      expect(overMax.statusCode).toBe(400);
      expect(overMax.json().code).toBe('SDLAB_BOOKING_TOO_MANY_SEATS');
      const extra = await best('dan', { quantity: 1, seatIds: [seatIds[5]] });
      expect(extra.statusCode).toBe(400);
      const badSection = await best('dan', { quantity: 1, section: 'x\u0000' });
      expect(badSection.statusCode).toBe(400);
      const anonymous = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds/best-available`,
        payload: { quantity: 1 },
      });
      expect(anonymous.statusCode).toBe(401);
    });
  });
});
