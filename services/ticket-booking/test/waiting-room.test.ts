import type { AddressInfo } from 'node:net';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { joinWaitingRoom } from './support/api.ts';
import { startBooking } from './support/app.ts';
import { admin, user } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

/** An SSE client: `until(predicate)` reads events until one matches, and returns it. */
async function openStream(url: string) {
  const res = await fetch(url);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const seen: { event: string; data: { status: string; position?: number } }[] = [];
  let buffer = '';
  return {
    seen,
    async until(predicate: (e: (typeof seen)[number]) => boolean) {
      for (;;) {
        const found = seen.find(predicate);
        if (found) return found;
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended; saw ${JSON.stringify(seen)}`);
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (event && data) seen.push({ event, data: JSON.parse(data) });
        }
      }
    },
    close: () => reader.cancel().catch(() => undefined),
  };
}

describe('waiting room', () => {
  test('joins keep their place, admission hands out tokens, holds need one, SSE pushes the position', async ({
    pg,
    redis,
    es,
  }) => {
    const env = bookingEnv(
      { pg, redis, es },
      { WAITING_ROOM_ADMIT_BATCH: '2', WAITING_ROOM_PUSH_EVERY_MS: '50' },
    );
    const service = await startBooking(env);
    const { app } = service;
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const { event, seatIds } = await createEvent(app, { waitingRoom: true });
      const join = (u: string) => joinWaitingRoom(app, event.id, u);
      expect(await join('u1')).toMatchObject({ status: 'waiting', position: 1, estimatedWaitSeconds: 10 });
      expect(await join('u2')).toMatchObject({ status: 'waiting', position: 2 });
      const u3 = await join('u3');
      expect(u3).toMatchObject({ status: 'waiting', position: 3 });
      // A retry or refresh keeps the place (ZADD NX).
      expect(await join('u1')).toMatchObject({ status: 'waiting', position: 1 });

      // No token, no hold while the room is on.
      const hold = async (u: string, token?: string) =>
        app.inject({
          method: 'POST',
          url: `/events/${event.id}/holds`,
          headers: { ...(await user(u)), ...(token ? { 'x-waiting-room-token': token } : {}) },
          payload: { seatIds: [seatIds[0]] },
        });
      const refused = await hold('u1');
      expect(refused.statusCode).toBe(403);
      expect(refused.json().code).toBe('SDLAB_BOOKING_ACCESS_TOKEN_REQUIRED');

      // u3 watches its position over SSE while the first tick admits u1 and u2.
      const stream = await openStream(
        `${base}/events/${event.id}/waiting-room/stream?ticket=${u3.streamTicket}`,
      );
      expect((await stream.until(() => true)).data).toEqual({
        status: 'waiting',
        position: 3,
        estimatedWaitSeconds: 20,
      });
      expect(await app.booking.waitingRoom.admit(event.id)).toEqual({ admitted: 2, waiting: 1 });
      await stream.until((e) => e.data.position === 1);

      const admitted = await join('u1');
      expect(admitted.status).toBe('admitted');
      const held = await hold('u1', admitted.accessToken);
      expect(held.statusCode).toBe(201);
      // The token is bound to its user and event.
      const stolen = await hold('u3', admitted.accessToken);
      expect(stolen.json()).toMatchObject({ code: 'SDLAB_BOOKING_ACCESS_TOKEN_INVALID' });
      const forged = await hold('u1', `${admitted.accessToken.slice(0, -4)}AAAA`);
      expect(forged.statusCode).toBe(403);

      // The next tick admits u3; the same stream ends with `admitted` (the token itself comes from /status).
      await app.booking.waitingRoom.admit(event.id);
      expect(await stream.until((e) => e.event === 'admitted')).toMatchObject({
        data: { status: 'admitted' },
      });
      await stream.close();
      const status = await app.inject({
        url: `/events/${event.id}/waiting-room/status`,
        headers: await user('u3'),
      });
      expect(status.json().status).toBe('admitted');

      // Turned off: holds go straight through, joining is refused.
      await app.inject({
        method: 'PATCH',
        url: `/admin/events/${event.id}`,
        headers: admin,
        payload: { waitingRoom: false },
      });
      expect((await hold('u4')).statusCode).toBe(409); // seat 0 is held by u1: the room no longer stands in the way
      const off = await app.inject({
        method: 'POST',
        url: `/events/${event.id}/waiting-room/join`,
        headers: await user('u5'),
      });
      expect(off.json().code).toBe('SDLAB_BOOKING_WAITING_ROOM_OFF');
    } finally {
      await app.close();
    }
  });
});
