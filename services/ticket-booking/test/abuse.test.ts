import type { AddressInfo } from 'node:net';
import { JwtIssuer } from '@sdlab/service-kit/auth';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { joinWaitingRoom } from './support/api.ts';
import { startBooking, withBooking } from './support/app.ts';
import { admin, user } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

type App = Awaited<ReturnType<typeof startBooking>>['app'];

async function hold(app: App, eventId: string, userId: string, seatIds: number[], token?: string) {
  return app.inject({
    method: 'POST',
    url: `/events/${eventId}/holds`,
    headers: { ...(await user(userId)), ...(token ? { 'x-waiting-room-token': token } : {}) },
    payload: { seatIds },
  });
}

/** Reads an SSE response until `event`, returning its data. */
async function readUntil(res: Response, event: string): Promise<Record<string, unknown>> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${event}: ${buffer}`);
      buffer += value;
      const match = new RegExp(`event: ${event}\\ndata: (.+)\\n`).exec(buffer);
      if (match) return JSON.parse(match[1]!);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

describe('identity', () => {
  test('a user is who a verified token says, never a header; cancelling an event needs the admin scope', async ({
    pg,
    redis,
    es,
  }) => {
    await withBooking(bookingEnv({ pg, redis, es }), async ({ app }) => {
      const { event, seatIds } = await createEvent(app);
      const attempts = [
        { 'x-user-id': 'mallory' },
        { authorization: 'Bearer not-a-token' },
        // Signed with another key (the committed default of another deployment, say).
        {
          authorization: `Bearer ${(await new JwtIssuer({ secret: 'x'.repeat(40), issuer: 'sdlab-dev-identity', audience: 'ticket-booking' }).issue('mallory')).token}`,
        },
      ];
      for (const headers of attempts) {
        const res = await app.inject({
          method: 'POST',
          url: `/events/${event.id}/holds`,
          headers,
          payload: { seatIds: [seatIds[0]] },
        });
        expect(res.statusCode).toBe(401);
        expect(res.json().code).toBe('SDLAB_AUTH_UNAUTHENTICATED');
      }
      const held = await hold(app, event.id, 'alice', [seatIds[0]!]);
      expect(held.json().hold.userId).toBe('alice');
      // Someone else's token does not reach alice's hold.
      const peek = await app.inject({ url: `/holds/${held.json().hold.id}`, headers: await user('bob') });
      expect(peek.statusCode).toBe(404);

      const cancelEvent = (headers: Record<string, string>) =>
        app.inject({
          method: 'PATCH',
          url: `/admin/events/${event.id}`,
          headers,
          payload: { status: 'CANCELLED' },
        });
      expect((await cancelEvent(await user('alice'))).statusCode).toBe(403);
      expect((await cancelEvent({ authorization: 'Bearer dev-admin-token-change-me' })).statusCode).toBe(401);
      expect((await cancelEvent(admin)).statusCode).toBe(200);
    });
  });
});

describe('one caller cannot take everything', () => {
  test('a user has at most HOLD_MAX_ACTIVE_PER_USER open holds, even when they all arrive at once', async ({
    pg,
    redis,
    es,
  }) => {
    await withBooking(bookingEnv({ pg, redis, es }, { HOLD_MAX_ACTIVE_PER_USER: '3' }), async ({ app }) => {
      const { event, seatIds } = await createEvent(app);
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => hold(app, event.id, 'hoarder', [seatIds[i]!])),
      );
      const codes = answers.map((r) => (r.statusCode === 201 ? 201 : r.json().code)).sort();
      expect(codes).toEqual([201, 201, 201, ...Array(9).fill('SDLAB_BOOKING_TOO_MANY_ACTIVE_HOLDS')]);
      const { rows } = await pg.pool.query(
        `SELECT count(*)::int AS holds, sum(cardinality(seat_ids))::int AS seats FROM booking.holds
         WHERE user_id = 'hoarder' AND status = 'ACTIVE'`,
      );
      expect(rows[0]).toEqual({ holds: 3, seats: 3 });
      const { rows: held } = await pg.pool.query(
        `SELECT count(*)::int AS n FROM booking.seats WHERE event_id = $1 AND status = 'HELD'`,
        [event.id],
      );
      expect(held[0].n).toBe(3);
      // Another user is not affected; a cancelled hold frees a place.
      expect((await hold(app, event.id, 'someone-else', [seatIds[20]!])).statusCode).toBe(201);
      const mine = answers.find((r) => r.statusCode === 201)!.json().hold.id;
      await app.inject({ method: 'DELETE', url: `/holds/${mine}`, headers: await user('hoarder') });
      expect((await hold(app, event.id, 'hoarder', [seatIds[21]!])).statusCode).toBe(201);
    });
  });

  test('holds, purchases and joins are rate limited per user', async ({ pg, redis, es }) => {
    await withBooking(
      bookingEnv(
        { pg, redis, es },
        { USER_RATE_LIMIT_CAPACITY: '3', USER_RATE_LIMIT_REFILL_PER_SEC: '0.001' },
      ),
      async ({ app }) => {
        const { event, seatIds } = await createEvent(app);
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++)
          statuses.push((await hold(app, event.id, 'busy', [seatIds[0]!])).statusCode);
        expect(statuses).toEqual([201, 409, 409]);
        const limited = await hold(app, event.id, 'busy', [seatIds[1]!]);
        expect(limited.statusCode).toBe(429);
        expect(limited.headers['content-type']).toContain('application/problem+json');
        expect(limited.headers['retry-after']).toBeDefined();
        expect(limited.json().code).toMatch(/^SDLAB_/);
        expect((await hold(app, event.id, 'calm', [seatIds[1]!])).statusCode).toBe(201);
      },
    );
  });

  test('an access token lets one hold through; a refused hold keeps it', async ({ pg, redis, es }) => {
    await withBooking(bookingEnv({ pg, redis, es }), async ({ app }) => {
      const { event, seatIds } = await createEvent(app, { waitingRoom: true });
      const join = (u: string) => joinWaitingRoom(app, event.id, u);
      await join('u1');
      await join('u2');
      await app.booking.waitingRoom.admit(event.id);
      const t1 = (await join('u1')).accessToken as string;
      const t2 = (await join('u2')).accessToken as string;
      expect((await hold(app, event.id, 'u1', [seatIds[0]!], t1)).statusCode).toBe(201);
      const reused = await hold(app, event.id, 'u1', [seatIds[1]!], t1);
      expect(reused.statusCode).toBe(403);
      expect(reused.json().code).toBe('SDLAB_BOOKING_ACCESS_TOKEN_INVALID');
      // The same admission fetched again is the same token: still spent.
      const again = (await join('u1')).accessToken as string;
      expect((await hold(app, event.id, 'u1', [seatIds[1]!], again)).statusCode).toBe(403);
      // u2 loses a race for a seat: the token is not used up by a refused hold.
      expect((await hold(app, event.id, 'u2', [seatIds[0]!], t2)).statusCode).toBe(409);
      expect((await hold(app, event.id, 'u2', [seatIds[2]!], t2)).statusCode).toBe(201);
    });
  });

  test("a stream shows a place in the queue only to its user's ticket, never carries a token, and streams per instance are capped", async ({
    pg,
    redis,
    es,
  }) => {
    const { app } = await startBooking(
      bookingEnv({ pg, redis, es }, { WAITING_ROOM_MAX_STREAMS: '2', WAITING_ROOM_PUSH_EVERY_MS: '50' }),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const opened: Response[] = [];
    try {
      const { event } = await createEvent(app, { waitingRoom: true });
      const { event: other } = await createEvent(app, { waitingRoom: true });
      const victim = await joinWaitingRoom(app, event.id, 'victim');
      const spyOnOther = await joinWaitingRoom(app, other.id, 'spy');
      const stream = (eventId: string, ticket: string) =>
        fetch(`${base}/events/${eventId}/waiting-room/stream?ticket=${encodeURIComponent(ticket)}`);

      // A stream shows one user's place only to the holder of that user's ticket for that event.
      const [u, expiry, signature] = (victim.streamTicket as string).split('.') as [string, string, string];
      const impostor = Buffer.from('victim').toString('base64url');
      for (const [ticket, why] of [
        [spyOnOther.streamTicket, "another event's ticket"],
        [`${impostor}.${expiry}.${signature.slice(0, -2)}AA`, 'a forged signature'],
        [`${u}.${Number(expiry) + 3600}.${signature}`, 'a changed expiry'],
        [`${Buffer.from('someone').toString('base64url')}.${expiry}.${signature}`, 'a changed user'],
      ] as const) {
        const refused = await stream(event.id, ticket);
        expect(refused.status, why).toBe(403);
        expect(((await refused.json()) as { code: string }).code, why).toBe(
          'SDLAB_BOOKING_STREAM_TICKET_INVALID',
        );
      }
      const noTicket = await fetch(`${base}/events/${event.id}/waiting-room/stream?userId=victim`);
      expect(noTicket.status).toBe(400);

      await app.booking.waitingRoom.admit(event.id);
      const own = await stream(event.id, victim.streamTicket);
      const admitted = await readUntil(own, 'admitted');
      expect(admitted.status).toBe('admitted');
      expect(admitted).not.toHaveProperty('accessToken');
      expect(admitted).not.toHaveProperty('streamTicket');

      const tickets: Record<string, string> = {};
      for (const w of ['w1', 'w2', 'w3']) tickets[w] = (await joinWaitingRoom(app, event.id, w)).streamTicket;
      for (const w of ['w1', 'w2']) {
        const res = await stream(event.id, tickets[w]!);
        expect(res.status).toBe(200);
        opened.push(res);
      }
      const third = await stream(event.id, tickets.w3!);
      expect(third.status).toBe(503);
      expect(third.headers.get('retry-after')).toBe('5');
      expect(((await third.json()) as { code: string }).code).toBe('SDLAB_BOOKING_TOO_MANY_STREAMS');
    } finally {
      await Promise.all(opened.map((r) => r.body?.cancel().catch(() => undefined)));
      await app.close();
    }
  });
});
