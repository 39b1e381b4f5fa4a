import type { App } from '@sdlab/service-kit';
import { BookingErrors } from '../../errors.ts';
import { Availability, EventSchema, SeatsPage, SeatsQuery } from '../../schemas/catalogue.ts';
import { EventIdParams, Problem } from '../../schemas/common.ts';
import { SearchQuery, SearchResult, SuggestQuery, SuggestResult } from '../../schemas/search.ts';

/** Browsing: search and suggestions (Elasticsearch), details (Redis cache-aside), live seat map. */
export async function eventRoutes(app: App): Promise<void> {
  const { search, cache, catalogue } = app.booking;
  const tags = ['events'];

  app.get(
    '/events/search',
    {
      schema: {
        tags,
        summary: 'Full-text event search with filters, sorting and search_after pagination',
        querystring: SearchQuery,
        response: { 200: SearchResult, 400: Problem, 503: Problem },
      },
    },
    async (request) => search.search(request.query),
  );

  app.get(
    '/events/suggest',
    {
      schema: {
        tags,
        summary: 'Suggestions as you type (edge n-grams over name, performer and venue)',
        querystring: SuggestQuery,
        response: { 200: SuggestResult, 400: Problem, 503: Problem },
      },
    },
    async (request) => ({ data: await search.suggest(request.query.q, request.query.size) }),
  );

  app.get(
    '/events/:eventId',
    {
      schema: {
        tags,
        summary: 'Event details (cached in Redis)',
        params: EventIdParams,
        response: { 200: EventSchema, 404: Problem },
      },
    },
    async (request) => {
      const event = await cache.get(request.params.eventId);
      if (!event) throw new BookingErrors.EventNotFound(request.params.eventId);
      return event;
    },
  );

  app.get(
    '/events/:eventId/availability',
    {
      schema: {
        tags,
        summary: 'Seat counts by status, read live from Postgres',
        params: EventIdParams,
        response: { 200: Availability, 404: Problem },
      },
    },
    async (request) => {
      const { eventId } = request.params;
      const event = await cache.get(eventId);
      if (!event) throw new BookingErrors.EventNotFound(eventId);
      const counts = await catalogue.availability(eventId);
      return {
        eventId,
        available: counts.AVAILABLE,
        held: counts.HELD,
        sold: counts.SOLD,
        total: counts.AVAILABLE + counts.HELD + counts.SOLD,
      };
    },
  );

  app.get(
    '/events/:eventId/seats',
    {
      schema: {
        tags,
        summary: 'A page of the seat map (keyset pagination by seat id)',
        params: EventIdParams,
        querystring: SeatsQuery,
        response: { 200: SeatsPage, 400: Problem, 404: Problem },
      },
    },
    async (request) => {
      const { eventId } = request.params;
      const event = await cache.get(eventId);
      if (!event) throw new BookingErrors.EventNotFound(eventId);
      const data = await catalogue.seats(eventId, request.query);
      return { data, nextAfterId: data.length === request.query.limit ? data.at(-1)!.id : null };
    },
  );
}
