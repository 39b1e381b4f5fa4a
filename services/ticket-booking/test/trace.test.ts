import { freePort, type LoggedSpan, test, waitFor } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { admin, user } from './support/auth.ts';
import { bookingEnv, WEBHOOK_SECRET } from './support/env.ts';
import { spawnBooking } from './support/processes.ts';

/** Walks up from a span to the root of its trace, through the recorded parents. */
function ancestors(spans: LoggedSpan[], span: LoggedSpan): LoggedSpan[] {
  const chain: LoggedSpan[] = [];
  for (let at = span.parentSpanId; at; ) {
    const parent = spans.find((s) => s.spanId === at);
    if (!parent) break;
    chain.push(parent);
    at = parent.parentSpanId;
  }
  return chain;
}

type Post = (
  path: string,
  body: unknown,
  headers?: Record<string, string>,
) => Promise<Record<string, unknown>>;

/** POSTs as the admin (plus `headers`) to a running process; the JSON answer, which `seen` sees first. */
function poster(
  url: string,
  seen: (status: number, json: Record<string, unknown>) => void = () => undefined,
): Post {
  return async (path, body, headers = {}) => {
    const res = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...admin, ...headers },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    seen(res.status, json);
    return json;
  };
}

/** A venue with one row of seats and an event on it, made over HTTP on a running process. */
async function eventOverHttp(
  url: string,
  post: Post,
  spec: { seatsPerRow: number; name: string; performer: string },
) {
  const venue = await post('/admin/venues', {
    name: 'T',
    city: 'Nice',
    sections: [{ name: 'A', rows: 1, seatsPerRow: spec.seatsPerRow }],
  });
  const event = await post('/admin/events', {
    venueId: venue.id,
    name: spec.name,
    performer: spec.performer,
    category: 'concert',
    startsAt: '2031-01-01T20:00:00Z',
    defaultPriceCents: 100,
  });
  const seats = (await (await fetch(`${url}/events/${event.id}/seats`)).json()) as { data: { id: number }[] };
  return { event, seats };
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
      const post = poster(api.url);
      const { event, seats } = await eventOverHttp(api.url, post, {
        seatsPerRow: 4,
        name: 'Traced',
        performer: 'Tracers',
      });
      const hold = await post(
        `/events/${event.id}/holds`,
        { seatIds: [seats.data[0]!.id, seats.data[1]!.id] },
        await user('tracy'),
      );
      const holdId = (hold.hold as { id: string }).id;

      const tagged = await waitFor('the hold span', async () =>
        api.spans().find((s) => s.attributes['sdlab.booking.hold_id'] === holdId),
      );
      expect(tagged.attributes).toMatchObject({
        'sdlab.booking.seat_count': 2,
        'sdlab.booking.lock_mode': 'redis',
      });
      const trace = api.spans().filter((s) => s.traceId === tagged.traceId);
      // The per-user rate limit runs a script first; the seat lock is the hold's last one.
      const lock = trace.filter((s) => s.span === 'evalsha').at(-1);
      const update = trace.find((s) => s.span.startsWith('pg.query:UPDATE'));
      expect(lock, JSON.stringify(trace.map((s) => s.span))).toBeDefined();
      expect(update, JSON.stringify(trace.map((s) => s.span))).toBeDefined();
      // Both hang under the same HTTP request.
      const requestOf = (s: LoggedSpan) =>
        ancestors(api.spans(), s).find((a) => a.attributes['http.route'] === '/events/:eventId/holds');
      expect(requestOf(lock!)).toBeDefined();
      expect(requestOf(lock!)?.spanId).toBe(requestOf(update!)?.spanId);

      // The event's creation crossed the outbox: the worker's "indexed" span is in the writer's trace.
      const indexed = await waitFor('the indexed span', async () =>
        worker
          .spans()
          .find(
            (s) => s.span === 'booking.search.indexed' && s.attributes['sdlab.booking.event_id'] === event.id,
          ),
      );
      const writer = api.spans().filter((s) => s.traceId === indexed.traceId);
      expect(writer.some((s) => s.attributes['http.route'] === '/admin/events')).toBe(true);
      expect(Number(indexed.attributes['sdlab.booking.index_lag_ms'])).toBeGreaterThanOrEqual(0);
    } finally {
      await worker.stop();
      await api.stop();
    }
  });

  test("a purchase's trace continues into the payment provider's charge", async ({ pg, redis, es }) => {
    const bookingPort = await freePort();
    const provider = await spawnBooking(
      {
        DATABASE_URL: pg.url,
        WEBHOOK_URL: `http://127.0.0.1:${bookingPort}/webhooks/payments`,
        WEBHOOK_SECRET,
        PAYMENT_LATENCY_MS: '0',
        PAYMENT_DECLINE_RATE: '0',
        WEBHOOK_DUPLICATE_RATE: '0',
        OTEL_SERVICE_NAME: 'payment-provider',
      },
      await freePort(),
      { traced: true, dir: new URL('../../payment-provider/', import.meta.url).pathname },
    );
    const api = await spawnBooking(
      bookingEnv({ pg, redis, es }, { PAYMENT_PROVIDER_URL: provider.url }),
      bookingPort,
      { traced: true },
    );
    try {
      const post = poster(api.url, (status, json) => expect(status, JSON.stringify(json)).toBeLessThan(300));
      const { event, seats } = await eventOverHttp(api.url, post, {
        seatsPerRow: 2,
        name: 'Paid',
        performer: 'Payers',
      });
      const payer = await user('payer');
      const hold = await post(`/events/${event.id}/holds`, { seatIds: [seats.data[0]!.id] }, payer);
      const holdId = (hold.hold as { id: string }).id;
      await post(
        `/holds/${holdId}/purchase`,
        { paymentMethod: 'pm_card_visa' },
        { ...payer, 'idempotency-key': 'trace-purchase-1' },
      );

      const purchase = await waitFor('the purchase request span', async () =>
        api.spans().find((s) => s.attributes['http.route'] === '/holds/:holdId/purchase'),
      );
      const charge = await waitFor("the provider's charge span", async () =>
        provider.spans().find((s) => s.attributes['http.route'] === '/payments'),
      );
      // Same trace, and the provider's request hangs under the booking service's outgoing call.
      expect(charge.traceId).toBe(purchase.traceId);
      const chain = [charge, ...ancestors(provider.spans(), charge)];
      const entry = chain[chain.length - 1]!;
      const client = api.spans().find((s) => s.spanId === entry.parentSpanId);
      expect(client, JSON.stringify(api.spans().filter((s) => s.traceId === purchase.traceId))).toBeDefined();
      expect(client!.attributes['url.full']).toMatch(/\/payments$/);
      // Under the purchase request (its handler span may be written a moment after the request's).
      await waitFor('the charge under the purchase request', async () =>
        ancestors(api.spans(), client!).some((s) => s.spanId === purchase.spanId),
      );
    } finally {
      await api.stop();
      await provider.stop();
    }
  });
});
