import type { App } from '@sdlab/service-kit';
import { BEARER_SECURITY, requireToken } from '@sdlab/service-kit/auth';
import Type from 'typebox';
import { BookingErrors } from '../../errors.ts';
import { EventBody, EventPatchBody, EventSchema, VenueBody, VenueSchema } from '../../schemas/catalogue.ts';
import { EventIdParams, Problem, Uuid } from '../../schemas/common.ts';

export const ADMIN_SCOPE = 'admin';

/**
 * Catalogue writes (creating events, cancelling one), for every route here only: an access token
 * with the `admin` scope (401 without a valid token, 403 without the scope).
 */
export async function adminRoutes(app: App): Promise<void> {
  const { catalogue, cache, tokens, metrics } = app.booking;
  app.addHook('onRequest', requireToken(tokens, { scope: ADMIN_SCOPE }));
  const tags = ['admin'];
  const description = 'Requires `Authorization: Bearer <JWT>` with the `admin` scope.';
  const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem };
  const security = BEARER_SECURITY;

  app.post(
    '/admin/venues',
    {
      schema: {
        tags,
        description,
        security,
        summary: 'Create a venue and its seating layout',
        body: VenueBody,
        response: { 201: VenueSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await catalogue.createVenue(request.body)),
  );

  app.get(
    '/admin/venues/:venueId',
    {
      schema: {
        tags,
        description,
        security,
        params: Type.Object({ venueId: Uuid }),
        response: { 200: VenueSchema, ...errors },
      },
    },
    async (request) => {
      const venue = await catalogue.getVenue(request.params.venueId);
      if (!venue) throw new BookingErrors.VenueNotFound(request.params.venueId);
      return venue;
    },
  );

  app.post(
    '/admin/events',
    {
      schema: {
        tags,
        description,
        security,
        summary: 'Create an event: its seats from the venue layout, its search document through the outbox',
        body: EventBody,
        response: { 201: EventSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await catalogue.createEvent(request.body)),
  );

  app.patch(
    '/admin/events/:eventId',
    {
      schema: {
        tags,
        description,
        security,
        summary:
          'Change an event (name, date, status, waiting room …); cancelling it releases its active holds; search follows through the outbox',
        params: EventIdParams,
        body: EventPatchBody,
        response: { 200: EventSchema, ...errors },
      },
    },
    async (request) => {
      const { event, releasedHolds } = await catalogue.updateEvent(request.params.eventId, request.body);
      if (releasedHolds > 0) metrics.holdsReleased.inc({ reason: 'event_cancelled' }, releasedHolds);
      await cache.invalidate(event.id);
      return event;
    },
  );
}
