import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { encodeCursor } from '../src/domain/search-query.ts';
import { withBooking } from './support/app.ts';
import { user } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

describe('inputs out of range', () => {
  test('numbers past a seat id and control characters are 400 problems, never a 500 from Postgres', async ({
    pg,
    redis,
    es,
  }) => {
    await withBooking(bookingEnv({ pg, redis, es }), async ({ app }) => {
      const { event } = await createEvent(app);
      const cases = [
        app.inject({ url: `/events/${event.id}/seats?afterId=1e30` }),
        app.inject({ url: `/events/${event.id}/seats?afterId=9223372036854775808` }),
        app.inject({ url: `/events/${event.id}/seats?section=%00` }),
        app.inject({ url: `/events/${event.id}/seats?section=A%00B` }),
        app.inject({
          method: 'POST',
          url: `/events/${event.id}/holds`,
          headers: await user('ivy'),
          payload: { seatIds: [1e30] },
        }),
      ];
      for (const res of await Promise.all(cases)) {
        expect(res.statusCode, res.body).toBe(400);
        expect(res.headers['content-type']).toContain('application/problem+json');
        // A NUL is refused by the kit before validation, the rest by the route's schema.
        expect(res.json().code).toMatch(/^SDLAB_(VALIDATION|KIT_NUL_CHARACTER)$/);
      }
    });
  });

  test("a search Elasticsearch refuses is a coded 400 without Elasticsearch's words", async ({
    pg,
    redis,
    es,
  }) => {
    await withBooking(bookingEnv({ pg, redis, es }), async ({ app }) => {
      // A well-formed cursor whose values do not fit the date sort's fields.
      const cursor = encodeCursor(['not a date', 'not an id']);
      const res = await app.inject({ url: `/events/search?sort=date&cursor=${cursor}` });
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('SDLAB_BOOKING_SEARCH_REFUSED');
      expect(res.body).not.toMatch(/parse|exception|index|\[/i);
    });
  });
});
