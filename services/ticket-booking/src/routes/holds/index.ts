import type { App } from '@sdlab/service-kit';
import { BEARER_SECURITY, requireToken } from '@sdlab/service-kit/auth';
import type { TSchema } from 'typebox';
import { perUser } from '../../domain/rate-limit.ts';
import { userIdOf } from '../../http/user.ts';
import { EventIdParams, Problem, UserHeaders } from '../../schemas/common.ts';
import {
  BestAvailableBody,
  HoldBody,
  HoldCreated,
  HoldHeaders,
  HoldIdParams,
  HoldSchema,
  SeatsTakenProblem,
} from '../../schemas/holds.ts';

export async function holdRoutes(app: App): Promise<void> {
  const { holds, tokens } = app.booking;
  const signedIn = requireToken(tokens);
  const tags = ['holds'];

  // The two ways to hold answer alike: signed in, limited per user, the waiting room's token
  // header, the hold or a coded problem. Only the body and the 409 differ (a named hold names
  // the seats already taken; a pick says the event is sold out).
  const holdRoute = <Body extends TSchema, Conflict extends TSchema>(
    summary: string,
    body: Body,
    conflict: Conflict,
  ) => ({
    config: { rateLimit: perUser(userIdOf) },
    preHandler: signedIn,
    schema: {
      security: BEARER_SECURITY,
      tags,
      summary,
      params: EventIdParams,
      headers: HoldHeaders,
      body,
      response: {
        201: HoldCreated,
        400: Problem,
        401: Problem,
        403: Problem,
        404: Problem,
        409: conflict,
        429: Problem,
        503: Problem,
      },
    },
  });

  app.post(
    '/events/:eventId/holds',
    holdRoute(
      'Hold seats for 10 minutes: all of them or none (409 names the seats already taken)',
      HoldBody,
      SeatsTakenProblem,
    ),
    async (request, reply) => {
      const held = await holds.hold({
        eventId: request.params.eventId,
        userId: userIdOf(request),
        seatIds: request.body.seatIds,
        accessToken: request.headers['x-waiting-room-token'],
      });
      return reply.code(201).send(held);
    },
  );

  app.post(
    '/events/:eventId/holds/best-available',
    holdRoute(
      'Hold the best free seats (in a section, if named) for 10 minutes: the service picks them; 409 SOLD_OUT when too few are free',
      BestAvailableBody,
      Problem,
    ),
    async (request, reply) => {
      const held = await holds.holdBestAvailable({
        eventId: request.params.eventId,
        userId: userIdOf(request),
        quantity: request.body.quantity,
        section: request.body.section,
        accessToken: request.headers['x-waiting-room-token'],
      });
      return reply.code(201).send(held);
    },
  );

  app.get(
    '/holds/:holdId',
    {
      preHandler: signedIn,
      schema: {
        security: BEARER_SECURITY,
        tags,
        params: HoldIdParams,
        headers: UserHeaders,
        response: { 200: HoldSchema, 400: Problem, 401: Problem, 404: Problem },
      },
    },
    async (request) => holds.get(request.params.holdId, userIdOf(request)),
  );

  app.delete(
    '/holds/:holdId',
    {
      preHandler: signedIn,
      schema: {
        security: BEARER_SECURITY,
        tags,
        summary: 'Cancel a hold: its seats go back on sale at once (idempotent)',
        params: HoldIdParams,
        headers: UserHeaders,
        response: { 200: HoldSchema, 400: Problem, 401: Problem, 404: Problem, 409: Problem },
      },
    },
    async (request) => holds.cancel(request.params.holdId, userIdOf(request)),
  );
}
