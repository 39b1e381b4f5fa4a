import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { withBooking } from './support/app.ts';
import { admin } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

describe('catalogue', () => {
  test('admin endpoints need the token; an event gets one seat per place in the venue layout', async ({
    pg,
    redis,
    es,
  }) => {
    await withBooking(bookingEnv({ pg, redis, es }), async ({ app }) => {
      const payload = { name: 'V', city: 'Nantes', sections: [{ name: 'A', rows: 1, seatsPerRow: 1 }] };
      const none = await app.inject({ method: 'POST', url: '/admin/venues', payload });
      expect(none.statusCode).toBe(401);
      expect(none.json().code).toBe('SDLAB_AUTH_UNAUTHENTICATED');
      const wrong = await app.inject({
        method: 'POST',
        url: '/admin/venues',
        headers: { authorization: 'Bearer nope' },
        payload,
      });
      expect(wrong.statusCode).toBe(401);

      const { event, seatIds } = await createEvent(app, {
        sections: [
          { name: 'Floor', rows: 10, seatsPerRow: 20 },
          { name: 'Balcony', rows: 3, seatsPerRow: 15 },
        ],
      });
      expect(seatIds).toHaveLength(245);
      const availability = await app.inject({ url: `/events/${event.id}/availability` });
      expect(availability.json()).toMatchObject({ available: 245, held: 0, sold: 0, total: 245 });
      const balcony = await app.inject({ url: `/events/${event.id}/seats?section=Balcony&limit=5` });
      expect(balcony.json().data[0]).toMatchObject({
        section: 'Balcony',
        row: 1,
        number: 1,
        status: 'AVAILABLE',
      });
      expect(balcony.json().nextAfterId).toBe(balcony.json().data[4].id);

      const venue = await app.inject({ method: 'POST', url: '/admin/venues', headers: admin, payload });
      const unpriced = await app.inject({
        method: 'POST',
        url: '/admin/events',
        headers: admin,
        payload: {
          venueId: venue.json().id,
          name: 'x',
          performer: 'y',
          category: 'concert',
          startsAt: '2031-01-01T20:00:00Z',
        },
      });
      expect(unpriced.json().code).toBe('SDLAB_BOOKING_MISSING_SECTION_PRICE');
      const invalid = await app.inject({
        method: 'POST',
        url: '/admin/events',
        headers: admin,
        payload: { venueId: 'nope', name: '', performer: 'y', category: 'opera', startsAt: 'tomorrow' },
      });
      expect(invalid.statusCode).toBe(400);
      expect(invalid.json().errors.map((e: { field: string }) => e.field)).toEqual(
        expect.arrayContaining(['body.venueId', 'body.name', 'body.category', 'body.startsAt']),
      );
    });
  });

  test('event details are cached in Redis and invalidated on change (cache-aside)', async ({
    pg,
    redis,
    es,
  }) => {
    await withBooking(bookingEnv({ pg, redis, es }), async ({ app, kit }) => {
      const { event } = await createEvent(app, { name: 'Cached Show' });
      const key = redis.key(`event:${event.id}`);
      await redis.client.del(key); // the seat listing in createEvent already filled it
      const first = await app.inject({ url: `/events/${event.id}` });
      expect(first.json().name).toBe('Cached Show');
      expect(JSON.parse((await redis.client.get(key))!).name).toBe('Cached Show');
      const ttl = await redis.client.ttl(key);
      expect(ttl).toBeGreaterThan(200);
      expect(ttl).toBeLessThanOrEqual(330);
      await app.inject({ url: `/events/${event.id}` });
      const lookups = await kit.metrics.getSingleMetricAsString('sdlab_booking_event_cache_lookups_total');
      expect(lookups).toMatch(/result="hit"[^\n]* [1-9]/);
      expect(lookups).toMatch(/result="miss"[^\n]* [1-9]/);

      const patched = await app.inject({
        method: 'PATCH',
        url: `/admin/events/${event.id}`,
        headers: admin,
        payload: { name: 'Renamed Show' },
      });
      expect(patched.json()).toMatchObject({ name: 'Renamed Show', version: 2 });
      expect(await redis.client.exists(key)).toBe(0);
      expect((await app.inject({ url: `/events/${event.id}` })).json().name).toBe('Renamed Show');
      // The change and its search document were written together.
      const { rows } = await pg.pool.query(
        'SELECT type, payload FROM booking.outbox WHERE aggregate_id = $1 ORDER BY id',
        [event.id],
      );
      expect(rows.map((r) => [r.type, r.payload.name, r.payload.version])).toEqual([
        ['event.created', 'Cached Show', 1],
        ['event.updated', 'Renamed Show', 2],
      ]);
    });
  });

  test('registers its dependencies for readiness and closes them newest first', async ({ pg, redis, es }) => {
    await withBooking(bookingEnv({ pg, redis, es }), async ({ app, kit }) => {
      // Not elasticsearch: only search needs it (503 while it is away); the worker's /readyz names it.
      expect(kit.readiness.names).toEqual(['postgres', 'redis']);
      expect(kit.resources.names).toEqual(['postgres', 'redis', 'elasticsearch']);
      const ready = await app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      const docs = (app as unknown as { swagger(): { paths: Record<string, unknown> } }).swagger();
      expect(Object.keys(docs.paths)).toEqual(
        expect.arrayContaining([
          '/events/search',
          '/events/{eventId}/holds',
          '/holds/{holdId}/purchase',
          '/webhooks/payments',
        ]),
      );
    });
  });
});
