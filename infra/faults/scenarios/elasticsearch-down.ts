/**
 * Elasticsearch goes down. Search is the only thing ticket-booking asks it for: holds, purchases
 * and event details are Postgres and Redis, and catalogue changes go to the outbox in the same
 * transaction as the change, so they wait in Postgres instead of failing. Search answers a coded
 * 503 at once rather than hanging. When Elasticsearch is back (with its data, as a compose volume
 * keeps it), the worker's relay delivers what waited and the changes made during the outage
 * become searchable.
 */
import { assert, call, expectProblem, expectStatus, query } from '../probe.ts';
import type { FaultScenario } from '../scenario.ts';
import {
  ADMIN,
  as,
  createEvent,
  expectAliveNotReady,
  expectReadiness,
  hold,
  metric,
  runId,
} from '../services.ts';

/** Documented search lag in normal operation: ~1 s, P95 < 5 s (ticket-booking README). */
const LAG_MS = 5_000;
/** A search while Elasticsearch is down must fail fast, not wait out timeouts (SEARCH_TIMEOUT_MS 2 s). */
const FAST_MS = 2_500;
/**
 * While Elasticsearch is unreachable the relay retries waiting rows at least every 5 s (an outage
 * does not count towards parking them), so a change lands within one such wait, the index
 * refresh and the worker noticing the node is back; 20 s leaves room for a loaded machine.
 */
const CATCH_UP_MS = 20_000;

export const scenario: FaultScenario = {
  name: 'elasticsearch-down',
  title: 'Elasticsearch goes down; search fails fast and clearly, booking goes on, search catches up after',
  server: 'elasticsearch',
  services: ['ticket-booking', 'ticket-booking-worker'],
  async run(ctx) {
    const id = runId();
    const booking = ctx.url('ticket-booking');
    const worker = ctx.url('ticket-booking-worker');
    const bookingDb = ctx.env('ticket-booking').DATABASE_URL!;

    /** Event ids a search for `q` returns. */
    const searchIds = async (q: string) => {
      const answer = await call(`${booking}/events/search?q=${encodeURIComponent(q)}&size=50`);
      expectStatus(answer, 200, `search ${q}`);
      return (answer.body as { data: { id: string }[] }).data.map((e) => e.id);
    };
    const searchable = (q: string, eventId: string, withinMs: number) =>
      ctx.eventually(
        async () => {
          const ids = await searchIds(q);
          assert(ids.includes(eventId), `search "${q}" returns ${ids.length} events, not ${eventId}`);
        },
        withinMs,
        250,
      );
    /** A hold then its purchase; the provider declines 2 % of cards at random, so up to 3 tries. */
    const holdAndBuy = async (eventId: string, seats: number[], user: string) => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const held = await hold(booking, eventId, user, [seats[attempt]!]);
        expectStatus(held, 201, 'hold');
        const holdId = (held.body as { hold: { id: string } }).hold.id;
        const bought = await call(`${booking}/holds/${holdId}/purchase`, {
          headers: { ...(await as(user)), 'idempotency-key': `${user}-${attempt}` },
          json: { paymentMethod: 'pm_card_visa' },
        });
        if (bought.status === 402) continue;
        expectStatus(bought, 201, 'purchase');
        assert((bought.body as { status: string }).status === 'CONFIRMED', `purchase ${bought.text}`);
        return;
      }
      throw new Error('three purchases in a row declined');
    };

    // ---------------------------------------------------------------- before
    const { eventId, seatIds } = await createEvent(booking, `es${id}`, 12);
    await ctx.check(
      'before',
      'ticket-booking-worker',
      `a new event is searchable within ${LAG_MS / 1000} s`,
      () => searchable(`es${id}`, eventId, LAG_MS),
    );
    await ctx.check('before', 'ticket-booking', 'ready (readyz 200)', () => expectReadiness(booking, 200));

    // ---------------------------------------------------------------- during
    // Deltas: a long-running worker (pnpm fault against a user's stack) has counted before.
    const relayed = (outcome: string) => metric(worker, 'sdlab_booking_outbox_relayed_total', { outcome });
    const relayedBefore = { retry: await relayed('retry'), dead: await relayed('dead') };
    await ctx.fault.stop();
    const down = Date.now();
    ctx.log('elasticsearch stopped');

    await ctx.check(
      'during',
      'ticket-booking',
      `search: 503 problem+json SEARCH_UNAVAILABLE with Retry-After, in < ${FAST_MS} ms`,
      async () => {
        for (const path of [`/events/search?q=es${id}`, `/events/suggest?q=es${id.slice(0, 3)}`]) {
          const answer = await call(`${booking}${path}`);
          expectProblem(answer, 503, 'SDLAB_BOOKING_SEARCH_UNAVAILABLE', path);
          assert(answer.headers.get('retry-after') !== null, `${path}: no Retry-After`);
          assert(answer.ms < FAST_MS, `${path} took ${answer.ms.toFixed(0)} ms`);
        }
      },
    );
    await ctx.check(
      'during',
      'ticket-booking',
      'event details and the seat map still answer (Redis/Postgres)',
      async () => {
        expectStatus(await call(`${booking}/events/${eventId}`), 200, 'event details');
        expectStatus(await call(`${booking}/events/${eventId}/availability`), 200, 'availability');
      },
    );
    await ctx.check('during', 'ticket-booking', 'a hold and its purchase go through (201, CONFIRMED)', () =>
      holdAndBuy(eventId, seatIds.slice(0, 3), `buyer-${id}`),
    );
    await ctx.check(
      'during',
      'ticket-booking',
      'stays ready (readyz 200): only search needs Elasticsearch',
      () => expectReadiness(booking, 200),
    );

    const renamed = `renamed${id}`;
    let createdDuring = '';
    await ctx.check(
      'during',
      'ticket-booking',
      'catalogue changes commit, and wait in the outbox',
      async () => {
        const patch = await call(`${booking}/admin/events/${eventId}`, {
          method: 'PATCH',
          headers: ADMIN,
          json: { name: `Fault night ${renamed}` },
        });
        expectStatus(patch, 200, 'rename event');
        createdDuring = (await createEvent(booking, `new${id}`, 4)).eventId;
        const rows = await query<{ aggregate_id: string }>(
          bookingDb,
          'SELECT aggregate_id FROM booking.outbox WHERE aggregate_id = ANY($1::uuid[]) AND dead_at IS NULL',
          [[eventId, createdDuring]],
        );
        const waiting = new Set(rows.map((r) => r.aggregate_id));
        assert(
          waiting.has(eventId) && waiting.has(createdDuring),
          `outbox rows waiting: ${JSON.stringify(rows)}`,
        );
      },
    );
    await ctx.check(
      'during',
      'ticket-booking-worker',
      'the relay retries, parks nothing: outbox retry count rises, dead does not',
      () =>
        ctx.eventually(
          async () => {
            const retries = (await relayed('retry')) - relayedBefore.retry;
            const dead = (await relayed('dead')) - relayedBefore.dead;
            assert(retries > 0 && dead === 0, `since the outage began: ${retries} retries, ${dead} parked`);
          },
          15_000,
          500,
        ),
    );
    await ctx.check(
      'during',
      'ticket-booking-worker',
      'alive (healthz 200), not ready: readyz 503 names elasticsearch',
      async () => {
        await expectAliveNotReady(worker, 'elasticsearch');
      },
    );

    // ---------------------------------------------------------------- after
    await ctx.fault.start();
    ctx.log(`elasticsearch started again after ${((Date.now() - down) / 1000).toFixed(1)} s down`);
    const back = Date.now();

    await ctx.check('after', 'ticket-booking-worker', 'ready again (readyz 200) within 30 s', () =>
      ctx.eventually(() => expectReadiness(worker, 200), 30_000, 500),
    );
    await ctx.check(
      'after',
      'ticket-booking',
      'search answers again, with what was indexed before the outage',
      () =>
        ctx.eventually(
          async () => {
            const ids = await searchIds(`es${id}`);
            assert(ids.includes(eventId), `search returns ${ids.join(',') || 'nothing'}`);
          },
          30_000,
          500,
        ),
    );
    await ctx.check(
      'after',
      'ticket-booking-worker',
      `changes made during the outage become searchable within ${CATCH_UP_MS / 1000} s`,
      async () => {
        const left = Math.max(0, CATCH_UP_MS - (Date.now() - back));
        await searchable(renamed, eventId, left);
        await searchable(`new${id}`, createdDuring, Math.max(1, CATCH_UP_MS - (Date.now() - back)));
        ctx.log(
          `outage changes searchable ${((Date.now() - back) / 1000).toFixed(1)} s after Elasticsearch was back`,
        );
      },
    );
    await ctx.check(
      'after',
      'ticket-booking-worker',
      'the outbox is empty: nothing parked, nothing left behind',
      async () => {
        const rows = await query(
          bookingDb,
          `SELECT type, (payload->>'version')::int AS version, attempts, dead_at IS NOT NULL AS dead,
                  left(last_error, 160) AS last_error
             FROM booking.outbox WHERE aggregate_id = ANY($1::uuid[]) ORDER BY id`,
          [[eventId, createdDuring]],
        );
        assert(rows.length === 0, `outbox rows left: ${JSON.stringify(rows)}`);
      },
    );
    await ctx.check(
      'after',
      'ticket-booking-worker',
      `a new change is searchable within the normal ${LAG_MS / 1000} s again`,
      async () => {
        const patch = await call(`${booking}/admin/events/${createdDuring}`, {
          method: 'PATCH',
          headers: ADMIN,
          json: { name: `Fault night again${id}` },
        });
        expectStatus(patch, 200, 'rename event');
        await searchable(`again${id}`, createdDuring, LAG_MS);
      },
    );
  },
};
