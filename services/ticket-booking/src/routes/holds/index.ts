import { type App, PROBLEM_CONTENT_TYPE } from '@sdlab/service-kit';
import { BookingErrors } from '../../errors.ts';
import { EventIdParams, Problem, UserHeaders } from '../../schemas/common.ts';
import {
  HoldBody,
  HoldCreated,
  HoldHeaders,
  HoldIdParams,
  HoldSchema,
  SeatsTakenProblem,
} from '../../schemas/holds.ts';

export async function holdRoutes(app: App): Promise<void> {
  const { holds, cache, waitingRoom, metrics, config } = app.booking;
  const tags = ['holds'];

  app.post(
    '/events/:eventId/holds',
    {
      schema: {
        tags,
        summary: 'Hold seats for 10 minutes: all of them or none (409 names the seats already taken)',
        params: EventIdParams,
        headers: HoldHeaders,
        body: HoldBody,
        response: {
          201: HoldCreated,
          400: Problem,
          403: Problem,
          404: Problem,
          409: SeatsTakenProblem,
          503: Problem,
        },
      },
    },
    async (request, reply) => {
      const { eventId } = request.params;
      const userId = request.headers['x-user-id'];
      const { seatIds } = request.body;
      if (new Set(seatIds).size > config.HOLD_MAX_SEATS)
        throw new BookingErrors.TooManySeats(config.HOLD_MAX_SEATS);
      const event = await cache.get(eventId);
      if (!event) throw new BookingErrors.EventNotFound(eventId);
      if (event.status !== 'SCHEDULED')
        throw new BookingErrors.EventNotOnSale(eventId, event.status.toLowerCase());
      if (event.waitingRoom) {
        const token = request.headers.authorization?.replace(/^Bearer\s+/i, '');
        try {
          await waitingRoom.verify(token, eventId, userId);
          metrics.accessTokens.inc({ outcome: 'accepted' });
        } catch (error) {
          metrics.accessTokens.inc({ outcome: 'rejected' });
          throw error;
        }
      }
      try {
        return reply.code(201).send(await holds.hold(eventId, userId, seatIds));
      } catch (error) {
        const taken = (error as { takenSeatIds?: number[] }).takenSeatIds;
        if (!taken) throw error;
        // The kit's problem+json, plus the seats a client should stop offering.
        return reply
          .code(409)
          .type(PROBLEM_CONTENT_TYPE)
          .send({
            type: 'urn:sdlab:problem:booking-seats-taken',
            title: (error as Error).message,
            status: 409,
            detail: (error as Error).message,
            instance: request.url,
            code: 'SDLAB_BOOKING_SEATS_TAKEN',
            takenSeatIds: taken,
          });
      }
    },
  );

  app.get(
    '/holds/:holdId',
    {
      schema: {
        tags,
        params: HoldIdParams,
        headers: UserHeaders,
        response: { 200: HoldSchema, 400: Problem, 404: Problem },
      },
    },
    async (request) => holds.get(request.params.holdId, request.headers['x-user-id']),
  );

  app.delete(
    '/holds/:holdId',
    {
      schema: {
        tags,
        summary: 'Cancel a hold: its seats go back on sale at once (idempotent)',
        params: HoldIdParams,
        headers: UserHeaders,
        response: { 200: HoldSchema, 400: Problem, 404: Problem, 409: Problem },
      },
    },
    async (request) => holds.cancel(request.params.holdId, request.headers['x-user-id']),
  );
}
