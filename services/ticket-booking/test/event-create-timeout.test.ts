import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { withBookingStack } from './support/app.ts';
import { createEvent } from './support/events.ts';

describe('creating an event', () => {
  test("inserts a large venue's seats under its own time limit, not the request paths' statement timeout", async ({
    pg,
    redis,
    es,
  }) => {
    // 100 ms is the shortest PG_STATEMENT_TIMEOUT_MS the config takes; 100,000 seats take longer.
    await withBookingStack(
      { pg, redis, es },
      { booking: { PG_STATEMENT_TIMEOUT_MS: '100' } },
      async (stack) => {
        const { event } = await createEvent(stack.app, {
          sections: [
            { name: 'North', rows: 100, seatsPerRow: 500 },
            { name: 'South', rows: 100, seatsPerRow: 500 },
          ],
        });
        const { rows } = await pg.pool.query<{ seats: number }>(
          'SELECT count(*)::int AS seats FROM booking.seats WHERE event_id = $1',
          [event.id],
        );
        expect(rows[0]?.seats).toBe(100_000);
      },
    );
  });
});
