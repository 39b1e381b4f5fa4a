import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { withBooking } from './support/app.ts';
import { user } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

describe('holds', () => {
  test('holds all seats or none and names the seats already taken', async ({ pg, redis, es }) => {
    await withBooking(bookingEnv({ pg, redis, es }), async ({ app }) => {
      const { event, seatIds } = await createEvent(app);
      const [s1, s2, s3] = seatIds as [number, number, number];
      const first = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('alice'),
        payload: { seatIds: [s1, s2] },
      });
      expect(first.statusCode).toBe(201);
      expect(first.json().hold).toMatchObject({ status: 'ACTIVE', seatIds: [s1, s2], amountCents: 10_000 });
      const lock = redis.key(`{ev:${event.id}}:seat:${s1}`);
      expect(await redis.client.get(lock)).toBe(first.json().hold.id);
      expect(await redis.client.pttl(lock)).toBeGreaterThan(590_000);

      const overlap = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('bob'),
        payload: { seatIds: [s2, s3] },
      });
      expect(overlap.statusCode).toBe(409);
      expect(overlap.headers['content-type']).toContain('application/problem+json');
      expect(overlap.json()).toMatchObject({ code: 'SDLAB_BOOKING_SEATS_TAKEN', takenSeatIds: [s2] });
      // All or nothing: s3 was not left held by the refused request.
      const { rows } = await pg.pool.query('SELECT status FROM booking.seats WHERE id = $1', [s3]);
      expect(rows[0].status).toBe('AVAILABLE');
      expect(await redis.client.exists(redis.key(`{ev:${event.id}}:seat:${s3}`))).toBe(0);

      const unknown = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('bob'),
        payload: { seatIds: [s3, 999_999_999] },
      });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json().code).toBe('SDLAB_BOOKING_SEATS_NOT_FOUND');

      const cancel = await app.inject({
        method: 'DELETE',
        url: `/holds/${first.json().hold.id}`,
        headers: await user('alice'),
      });
      expect(cancel.json().status).toBe('CANCELLED');
      const again = await app.inject({
        method: 'DELETE',
        url: `/holds/${first.json().hold.id}`,
        headers: await user('alice'),
      });
      expect(again.statusCode).toBe(200);
      const after = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('bob'),
        payload: { seatIds: [s2, s3] },
      });
      expect(after.statusCode).toBe(201);
      const availability = await app.inject({ url: `/events/${event.id}/availability` });
      expect(availability.json()).toMatchObject({ available: 48, held: 2, sold: 0, total: 50 });
    });
  });

  test('validates input and names the field', async ({ pg, redis, es }) => {
    await withBooking(bookingEnv({ pg, redis, es }, { HOLD_MAX_SEATS: '4' }), async ({ app }) => {
      const { event, seatIds } = await createEvent(app);
      const empty = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('a'),
        payload: { seatIds: [] },
      });
      expect(empty.statusCode).toBe(400);
      expect(empty.json().errors[0].field).toBe('body.seatIds');
      const tooMany = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        headers: await user('a'),
        payload: { seatIds: seatIds.slice(0, 5) },
      });
      expect(tooMany.json().code).toBe('SDLAB_BOOKING_TOO_MANY_SEATS');
      const noUser = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/holds`,
        payload: { seatIds: [seatIds[0]] },
      });
      expect(noUser.statusCode).toBe(401);
      expect(noUser.json().code).toBe('SDLAB_AUTH_UNAUTHENTICATED');
      const noEvent = await app.inject({
        method: 'POST',
        url: '/events/00000000-0000-4000-8000-000000000000/holds',
        headers: await user('a'),
        payload: { seatIds: [1] },
      });
      expect(noEvent.statusCode).toBe(404);
    });
  });
});
