import { Client } from '@elastic/elasticsearch';
import { freePort, test, waitFor } from '@sdlab/testkit';
import { Registry } from 'prom-client';
import { describe, expect } from 'vitest';
import { OutboxRelay } from '../src/domain/outbox-relay.ts';
import { createWorkerMetrics } from '../src/telemetry.ts';
import { startBooking, withBookingAndWorker } from './support/app.ts';
import { admin } from './support/auth.ts';
import { bookingEnv } from './support/env.ts';
import { createEvent } from './support/events.ts';

/** "P95 < 5 s from update to searchable" [001:3386]; the target is ~1 s [004:521]. */
const DOCUMENTED_LAG_MS = 5000;

describe('search', () => {
  test('finds events by text with typos, filters, sorts, pages with search_after and suggests as you type', async ({
    pg,
    redis,
    es,
  }) => {
    const env = bookingEnv({ pg, redis, es }, { SEARCH_REFRESH_INTERVAL: '200ms' });
    await withBookingAndWorker(env, async (app, _worker) => {
      const day = (d: number) => new Date(Date.UTC(2031, 0, d, 20)).toISOString();
      const specs = [
        {
          name: 'Taylor Swift: The Eras Tour',
          performer: 'Taylor Swift',
          city: 'Paris',
          category: 'concert',
          startsAt: day(10),
          priceCents: 9000,
          venueName: 'Paris La Défense Arena',
        },
        {
          name: 'Beyoncé Renaissance',
          performer: 'Beyoncé',
          city: 'Lyon',
          category: 'concert',
          startsAt: day(5),
          priceCents: 12000,
          venueName: 'Groupama Stadium',
        },
        {
          name: 'Hamlet',
          performer: 'Royal Shakespeare Company',
          city: 'Paris',
          category: 'theatre',
          startsAt: day(7),
          priceCents: 4000,
          venueName: 'Odéon',
        },
        {
          name: 'Olympique Lyonnais v PSG',
          performer: 'Olympique Lyonnais',
          city: 'Lyon',
          category: 'sports',
          startsAt: day(3),
          priceCents: 3000,
          venueName: 'Groupama Stadium',
        },
        {
          name: 'Taylor Mac Live',
          performer: 'Taylor Mac',
          city: 'paris',
          category: 'comedy',
          startsAt: day(12),
          priceCents: 2500,
          venueName: 'Le Trianon',
        },
      ];
      const ids: Record<string, string> = {};
      for (const spec of specs)
        ids[spec.name] = (
          await createEvent(app, { ...spec, sections: [{ name: 'A', rows: 1, seatsPerRow: 2 }] })
        ).event.id;
      const search = async (qs: string) => (await app.inject({ url: `/events/search?${qs}` })).json();
      await waitFor('all five indexed', async () => (await search('size=100')).data.length >= 5);

      const names = (r: { data: { name: string }[] }) => r.data.map((d) => d.name);
      // Typo tolerance and accent folding.
      expect(names(await search('q=tayler%20swfit'))[0]).toBe('Taylor Swift: The Eras Tour');
      expect(names(await search('q=beyonce'))).toEqual(['Beyoncé Renaissance']);
      // Filters: city (case-insensitive keyword), category, date range, price overlap.
      expect(names(await search('city=PARIS&sort=date'))).toEqual([
        'Hamlet',
        'Taylor Swift: The Eras Tour',
        'Taylor Mac Live',
      ]);
      expect(names(await search('category=sports'))).toEqual(['Olympique Lyonnais v PSG']);
      expect(names(await search(`from=${day(4)}&to=${day(8)}&sort=date`))).toEqual([
        'Beyoncé Renaissance',
        'Hamlet',
      ]);
      expect(names(await search('maxPriceCents=3500&sort=price'))).toEqual([
        'Taylor Mac Live',
        'Olympique Lyonnais v PSG',
      ]);
      expect(names(await search('minPriceCents=10000'))).toEqual(['Beyoncé Renaissance']);
      // search_after pages cover everything once, in order.
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: { name: string }[]; nextCursor: string | null } = await search(
          `sort=date&size=2${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...names(page));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual([
        'Olympique Lyonnais v PSG',
        'Beyoncé Renaissance',
        'Hamlet',
        'Taylor Swift: The Eras Tour',
        'Taylor Mac Live',
      ]);
      const badCursor = await app.inject({ url: '/events/search?sort=price&cursor=bm9wZQ' });
      expect(badCursor.statusCode).toBe(400);
      expect(badCursor.json().code).toBe('SDLAB_BOOKING_INVALID_CURSOR');
      // Suggestions as you type (edge n-grams).
      const suggest = async (q: string) =>
        (await app.inject({ url: `/events/suggest?q=${encodeURIComponent(q)}` }))
          .json()
          .data.map((d: { name: string }) => d.name);
      expect(await suggest('tay')).toEqual(
        expect.arrayContaining(['Taylor Swift: The Eras Tour', 'Taylor Mac Live']),
      );
      expect(await suggest('groupa')).toEqual(
        expect.arrayContaining(['Beyoncé Renaissance', 'Olympique Lyonnais v PSG']),
      );
      expect(await suggest('hamle')).toEqual(['Hamlet']);
      // A cancelled event leaves the results.
      await app.inject({
        method: 'PATCH',
        url: `/admin/events/${ids.Hamlet}`,
        headers: admin,
        payload: { status: 'CANCELLED' },
      });
      await waitFor(
        'the cancelled event to leave search',
        async () => !names(await search('q=hamlet')).includes('Hamlet'),
      );
    });
  });

  test('search sees a new and a changed event within the documented lag (measured)', async ({
    pg,
    redis,
    es,
  }) => {
    // The default refresh interval (1 s): what production would see.
    const env = bookingEnv({ pg, redis, es });
    await withBookingAndWorker(env, async (app, worker) => {
      const visible = async (q: string, id: string) => {
        const res = await app.inject({ url: `/events/search?q=${encodeURIComponent(q)}` });
        return res.json().data.some((d: { id: string }) => d.id === id);
      };
      let started = Date.now();
      const { event } = await createEvent(app, { name: 'Zyxwvut Quartet', performer: 'Zyxwvut' });
      await waitFor('the new event in search', () => visible('zyxwvut', event.id), 30_000);
      const createLag = Date.now() - started;

      started = Date.now();
      const patch = await app.inject({
        method: 'PATCH',
        url: `/admin/events/${event.id}`,
        headers: admin,
        payload: { name: 'Qwertyuiop Quartet' },
      });
      expect(patch.json().version).toBe(2);
      await waitFor('the renamed event in search', () => visible('qwertyuiop', event.id), 30_000);
      const updateLag = Date.now() - started;
      console.log('search lag:', JSON.stringify({ createLagMs: createLag, updateLagMs: updateLag }));
      expect(createLag).toBeLessThan(DOCUMENTED_LAG_MS);
      expect(updateLag).toBeLessThan(DOCUMENTED_LAG_MS);
      // The worker measured it too, as a metric.
      expect(
        await worker.kit.metrics.getSingleMetricAsString('sdlab_booking_search_index_lag_seconds'),
      ).toContain('sdlab_booking_search_index_lag_seconds_count{service="ticket-booking-worker"} 2');
      // The outbox is drained.
      const { rows } = await pg.pool.query('SELECT count(*)::int AS n FROM booking.outbox');
      expect(rows[0].n).toBe(0);
    });
  });

  test('the relay retries with backoff while Elasticsearch is unreachable, then indexes', async ({
    pg,
    redis,
    es,
  }) => {
    const env = bookingEnv({ pg, redis, es });
    const { app } = await startBooking(env);
    const nowhere = new Client({
      node: `http://127.0.0.1:${await freePort()}`,
      maxRetries: 0,
      requestTimeout: 500,
    });
    const relayWith = (client: Client) =>
      new OutboxRelay({
        pool: pg.pool,
        databaseUrl: pg.url,
        es: client,
        index: env.SEARCH_INDEX!,
        cache: { invalidate: async () => {} },
        batch: 100,
        pollMs: 1000,
        maxAttempts: 5,
        retryBaseMs: 1,
        metrics: createWorkerMetrics(new Registry()),
        log: app.log,
      });
    try {
      const { event } = await createEvent(app, { name: 'Retry Me' });
      expect(await relayWith(nowhere).relayOnce()).toBe(1);
      const { rows } = await pg.pool.query(
        'SELECT attempts, last_error, dead_at FROM booking.outbox WHERE aggregate_id = $1',
        [event.id],
      );
      expect(rows[0]).toMatchObject({ attempts: 1, dead_at: null });
      expect(rows[0].last_error).toBeTruthy();
      // Back up: the row is relayed (after its short backoff) and the event is searchable.
      const relay = relayWith(es.client);
      await waitFor('the row to be relayed', async () => (await relay.relayOnce()) === 1);
      const { rows: left } = await pg.pool.query('SELECT count(*)::int AS n FROM booking.outbox');
      expect(left[0].n).toBe(0);
      await es.client.indices.refresh({ index: env.SEARCH_INDEX! });
      const doc = await es.client.get({ index: env.SEARCH_INDEX!, id: event.id });
      expect(doc._source).toMatchObject({ name: 'Retry Me', version: 1 });
      expect(doc._version).toBe(1);
    } finally {
      await nowhere.close();
      await app.close();
    }
  });
});
