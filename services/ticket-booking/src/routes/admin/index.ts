import { createHash, timingSafeEqual } from 'node:crypto';
import type { App } from '@sdlab/service-kit';
import Type from 'typebox';
import { BookingErrors } from '../../errors.ts';
import { EventBody, EventPatchBody, EventSchema, VenueBody, VenueSchema } from '../../schemas/catalogue.ts';
import { EventIdParams, Problem, Uuid } from '../../schemas/common.ts';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Catalogue writes, behind a bearer token (checked in constant time, for every route here only). */
export async function adminRoutes(app: App): Promise<void> {
  const { catalogue, cache } = app.booking;
  const expected = digest(`Bearer ${app.booking.config.ADMIN_TOKEN}`);
  app.addHook('onRequest', async (request) => {
    const given = request.headers.authorization;
    if (!given || !timingSafeEqual(digest(given), expected)) throw new BookingErrors.Unauthorized();
  });
  const tags = ['admin'];
  const description = 'Requires `Authorization: Bearer <ADMIN_TOKEN>`.';
  const errors = { 400: Problem, 401: Problem, 404: Problem };

  app.post(
    '/admin/venues',
    {
      schema: {
        tags,
        description,
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
        summary: 'Change an event (name, date, status, waiting room …); search follows through the outbox',
        params: EventIdParams,
        body: EventPatchBody,
        response: { 200: EventSchema, ...errors },
      },
    },
    async (request) => {
      const event = await catalogue.updateEvent(request.params.eventId, request.body);
      await cache.invalidate(event.id);
      return event;
    },
  );
}
