import { freePort, test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { admin, bookingEnv, type Span, spawnBooking, until } from './helpers.ts';

/** Walks up from a span to the root of its trace, through the recorded parents. */
function ancestors(spans: Span[], span: Span): Span[] {
  const chain: Span[] = [];
  for (let at = span.parentSpanId; at; ) {
    const parent = spans.find((s) => s.spanId === at);
    if (!parent) break;
    chain.push(parent);
    at = parent.parentSpanId;
  }
  return chain;
}

describe('traces', () => {
  test("a hold's trace shows the lock script and the conditional update; an event change's trace reaches the indexer", async ({
    pg,
    redis,
    es,
  }) => {
    const env = bookingEnv({ pg, redis, es });
    const api = await spawnBooking(env, await freePort(), { traced: true });
    const worker = await spawnBooking(
      { ...env, OTEL_SERVICE_NAME: 'ticket-booking-worker' },
      await freePort(),
      {
        entry: 'src/worker.ts',
        traced: true,
      },
    );
    try {
      const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
        const res = await fetch(`${api.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...admin, ...headers },
          body: JSON.stringify(body),
        });
        return (await res.json()) as Record<string, unknown>;
      };
      const venue = await post('/admin/venues', {
        name: 'T',
        city: 'Nice',
        sections: [{ name: 'A', rows: 1, seatsPerRow: 4 }],
      });
      const event = await post('/admin/events', {
        venueId: venue.id,
        name: 'Traced',
        performer: 'Tracers',
        category: 'concert',
        startsAt: '2031-01-01T20:00:00Z',
        defaultPriceCents: 100,
      });
      const seats = (await (await fetch(`${api.url}/events/${event.id}/seats`)).json()) as {
        data: { id: number }[];
      };
      const hold = await post(
        `/events/${event.id}/holds`,
        { seatIds: [seats.data[0]!.id, seats.data[1]!.id] },
        { 'x-user-id': 'tracy' },
      );
      const holdId = (hold.hold as { id: string }).id;

      const tagged = await until('the hold span', async () =>
        api.spans.find((s) => s.attributes['sdlab.booking.hold_id'] === holdId),
      );
      expect(tagged.attributes).toMatchObject({
        'sdlab.booking.seat_count': 2,
        'sdlab.booking.lock_mode': 'redis',
      });
      const trace = api.spans.filter((s) => s.traceId === tagged.traceId);
      const lock = trace.find((s) => s.span === 'evalsha');
      const update = trace.find((s) => s.span.startsWith('pg.query:UPDATE'));
      expect(lock, JSON.stringify(trace.map((s) => s.span))).toBeDefined();
      expect(update, JSON.stringify(trace.map((s) => s.span))).toBeDefined();
      // Both hang under the same HTTP request.
      const requestOf = (s: Span) =>
        ancestors(api.spans, s).find((a) => a.attributes['http.route'] === '/events/:eventId/holds');
      expect(requestOf(lock!)).toBeDefined();
      expect(requestOf(lock!)?.spanId).toBe(requestOf(update!)?.spanId);

      // The event's creation crossed the outbox: the worker's "indexed" span is in the writer's trace.
      const indexed = await until('the indexed span', async () =>
        worker.spans.find(
          (s) => s.span === 'booking.search.indexed' && s.attributes['sdlab.booking.event_id'] === event.id,
        ),
      );
      const writer = api.spans.filter((s) => s.traceId === indexed.traceId);
      expect(writer.some((s) => s.attributes['http.route'] === '/admin/events')).toBe(true);
      expect(Number(indexed.attributes['sdlab.booking.index_lag_ms'])).toBeGreaterThanOrEqual(0);
    } finally {
      await worker.stop();
      await api.stop();
    }
  });
});
