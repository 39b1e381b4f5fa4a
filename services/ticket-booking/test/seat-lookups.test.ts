import { test, waitFor } from '@sdlab/testkit';
import type pg from 'pg';
import { describe, expect } from 'vitest';
import { startBooking } from './support/app.ts';
import { user } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

/**
 * Index entries of booking.seats read so far in this database (every index of the table).
 * Backends report their counters when they exit, so the app is closed before this is read.
 */
async function seatIndexTuplesRead(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT pg_stat_clear_snapshot(), coalesce(sum(idx_tup_read), 0) AS n
     FROM pg_stat_user_indexes WHERE schemaname = 'booking' AND relname = 'seats'`,
  );
  return Number(rows[0]!.n);
}

describe('seat lookups', () => {
  // An event created just before its on-sale: 5,000 seats in a table autovacuum has not analysed
  // yet. Without statistics the planner once read every AVAILABLE seat of the event for each hold
  // (through (event_id, status)), and every held seat for each cancel or purchase step (through
  // the sweep's index, with statistics too): ~5,000 index entries a hold here, ~47,000 on a
  // 50,000-seat event.
  test('holds and cancels on a 5,000-seat event read only the seats they ask for', async ({
    pg,
    redis,
    es,
  }) => {
    const { app } = await startBooking(bookingEnv({ pg, redis, es }));
    const holds: string[] = [];
    let seatsAsked = 0;
    try {
      const { event } = await createEvent(app, {
        sections: [{ name: 'Floor', rows: 50, seatsPerRow: 100 }],
      });
      const { rows } = await pg.pool.query<{ first: string }>(
        'SELECT min(id) AS first FROM booking.seats WHERE event_id = $1',
        [event.id],
      );
      const first = Number(rows[0]!.first);
      // 40 holds of 2 seats spread over the event, 20 of them cancelled again.
      for (let i = 0; i < 40; i++) {
        const seatIds = [first + i * 120, first + i * 120 + 1];
        seatsAsked += seatIds.length;
        const res = await app.inject({
          method: 'POST',
          url: `/events/${event.id}/holds`,
          headers: await user(`lookup-${i}`),
          payload: { seatIds },
        });
        expect(res.statusCode).toBe(201);
        holds.push(res.json().hold.id);
      }
      for (let i = 0; i < 20; i++) {
        const res = await app.inject({
          method: 'DELETE',
          url: `/holds/${holds[i]}`,
          headers: await user(`lookup-${i}`),
        });
        expect(res.json().status).toBe('CANCELLED');
      }
    } finally {
      await app.close();
    }
    const { rows: analysed } = await pg.pool.query<{ n: string }>(
      `SELECT coalesce(analyze_count + autoanalyze_count, 0) AS n FROM pg_stat_user_tables
       WHERE schemaname = 'booking' AND relname = 'seats'`,
    );
    console.log('seat lookups: seats table analysed', analysed[0]?.n, 'times');
    // The counters arrive when the app's backends exit; each hold and cancel reads at least one.
    const read = await waitFor('the closed backends to report their counters', async () => {
      const n = await seatIndexTuplesRead(pg.pool);
      return n >= seatsAsked && n;
    });
    console.log('seat lookups:', { seatsAsked, indexTuplesRead: read });
    // Each seat is found once by the hold and once by the cancel, plus the event's own lookups
    // (the first page of 1,000 seats read by createEvent): far below one read of the event's 5,000 seats.
    expect(read).toBeLessThan(5 * seatsAsked + 1_500);
    const { rows: state } = await pg.pool.query<{ held: number }>(
      `SELECT count(*)::int AS held FROM booking.seats WHERE status = 'HELD'`,
    );
    expect(state[0]!.held).toBe(40);
  });
});
