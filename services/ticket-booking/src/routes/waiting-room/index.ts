import type { ServerResponse } from 'node:http';
import type { App } from '@sdlab/service-kit';
import { BEARER_SECURITY, requireToken } from '@sdlab/service-kit/auth';
import { perUser } from '../../domain/rate-limit.ts';
import type { RoomState as State } from '../../domain/waiting-room.ts';
import { BookingErrors } from '../../errors.ts';
import { userIdOf } from '../../http/user.ts';
import { EventIdParams, Problem, UserHeaders } from '../../schemas/common.ts';
import { RoomState, StreamQuery } from '../../schemas/waiting-room.ts';

/**
 * What a stream shows: never the access token nor a new ticket (a URL ends up in proxy and
 * browser logs, so the stream carries nothing that grants more than watching).
 */
function forStream(state: State): object {
  return state.status === 'admitted'
    ? { status: state.status, expiresAt: state.expiresAt }
    : { status: state.status, position: state.position, estimatedWaitSeconds: state.estimatedWaitSeconds };
}

/**
 * Join, poll, or stream one's place in a hot event's waiting room. The stream is Server-Sent
 * Events: one-way, plain HTTP, reconnects by itself (`retry:`), which is all a queue position
 * needs; it ends with an `admitted` event carrying the access token.
 */
export async function waitingRoomRoutes(app: App): Promise<void> {
  const { waitingRoom, cache, metrics, config, tokens } = app.booking;
  const signedIn = requireToken(tokens);
  const tags = ['waiting-room'];
  const open = new Set<ServerResponse>();
  app.addHook('onClose', async () => {
    for (const res of open) res.end();
  });

  async function requireRoom(eventId: string): Promise<void> {
    const event = await cache.get(eventId);
    if (!event) throw new BookingErrors.EventNotFound(eventId);
    if (!event.waitingRoom) throw new BookingErrors.WaitingRoomOff(eventId);
  }

  app.post(
    '/events/:eventId/waiting-room/join',
    {
      config: { rateLimit: perUser(userIdOf) },
      preHandler: signedIn,
      schema: {
        security: BEARER_SECURITY,
        tags,
        summary: 'Join the queue (a retry keeps the position), or get the access token if admitted',
        params: EventIdParams,
        headers: UserHeaders,
        response: { 200: RoomState, 400: Problem, 401: Problem, 404: Problem, 409: Problem, 429: Problem },
      },
    },
    async (request) => {
      const { eventId } = request.params;
      await requireRoom(eventId);
      const { state, joined } = await waitingRoom.join(eventId, userIdOf(request));
      metrics.waitingRoomJoins.inc({
        outcome: state.status === 'admitted' ? 'already_admitted' : joined ? 'new' : 'rejoin',
      });
      if (state.status === 'admitted') metrics.accessTokens.inc({ outcome: 'issued' });
      return state;
    },
  );

  app.get(
    '/events/:eventId/waiting-room/status',
    {
      preHandler: signedIn,
      schema: {
        security: BEARER_SECURITY,
        tags,
        summary: 'Current position, or the access token once admitted',
        params: EventIdParams,
        headers: UserHeaders,
        response: { 200: RoomState, 400: Problem, 401: Problem, 404: Problem, 409: Problem },
      },
    },
    async (request) => {
      await requireRoom(request.params.eventId);
      return waitingRoom.status(request.params.eventId, userIdOf(request));
    },
  );

  app.get(
    '/events/:eventId/waiting-room/stream',
    {
      schema: {
        tags,
        summary:
          'Server-Sent Events: `position` every few seconds, then `admitted` (fetch the token from /status)',
        description:
          'EventSource cannot set headers, so the caller proves who it is with the `streamTicket` that ' +
          '`join` and `/status` answer (signed for this user and event, valid as long as a stream lives). ' +
          'The stream never carries the access token: on `admitted`, the client asks `/status` for it.',
        params: EventIdParams,
        querystring: StreamQuery,
        response: { 400: Problem, 403: Problem, 404: Problem, 409: Problem, 503: Problem },
      },
    },
    async (request, reply) => {
      const { eventId } = request.params;
      const userId = waitingRoom.streamUser(request.query.ticket, eventId);
      await requireRoom(eventId);
      // Each stream holds a socket and polls Redis for up to an hour: a bounded number per instance.
      if (open.size >= config.WAITING_ROOM_MAX_STREAMS) throw new BookingErrors.TooManyStreams();
      let state: State = await waitingRoom.status(eventId, userId);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 5000\n\n');
      open.add(res);
      metrics.sseStreams.inc();
      let closed = false;
      const deadline = Date.now() + config.WAITING_ROOM_MAX_STREAM_S * 1000;
      request.raw.on('close', () => {
        closed = true;
      });
      try {
        let id = 0;
        for (;;) {
          const event = state.status === 'admitted' ? 'admitted' : 'position';
          res.write(`id: ${++id}\nevent: ${event}\ndata: ${JSON.stringify(forStream(state))}\n\n`);
          if (state.status === 'admitted') break;
          await new Promise((resolve) => setTimeout(resolve, config.WAITING_ROOM_PUSH_EVERY_MS));
          if (closed || res.writableEnded || Date.now() > deadline) break;
          try {
            state = await waitingRoom.status(eventId, userId);
          } catch (error) {
            res.write(`event: error\ndata: ${JSON.stringify({ message: (error as Error).message })}\n\n`);
            break;
          }
        }
      } finally {
        open.delete(res);
        metrics.sseStreams.dec();
        if (!res.writableEnded) res.end();
      }
    },
  );
}
