/**
 * Elasticsearch goes down. Search is the only thing ticket-booking asks it for: holds, purchases
 * and event details are Postgres and Redis, and catalogue changes go to the outbox in the same
 * transaction as the change, so they wait in Postgres instead of failing. Search answers a coded
 * 503 at once rather than hanging. When Elasticsearch is back (with its data, as a compose volume
 * keeps it), the worker's relay delivers what waited and the changes made during the outage
 * become searchable.
 */
import { BookingSearch } from '../booking-search.ts';
import { assert, call, expectProblem, expectStatus } from '../probe.ts';
import type { FaultScenario } from '../scenario.ts';
import { createEvent, expectAliveNotReady, expectReadiness, runId } from '../services.ts';

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
    const probe = new BookingSearch(ctx);

    // ---------------------------------------------------------------- before
    const { eventId, seatIds } = await createEvent(booking, `es${id}`, 12);
    await ctx.check(
      'before',
      'ticket-booking-worker',
      `a new event is searchable within ${LAG_MS / 1000} s`,
      () => probe.searchable(`es${id}`, eventId, LAG_MS),
    );
    await ctx.check('before', 'ticket-booking', 'ready (readyz 200)', () => expectReadiness(booking, 200));

    // ---------------------------------------------------------------- during
    const relayedBefore = await probe.relayCounts();
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
      probe.holdAndBuy(eventId, seatIds.slice(0, 3), `buyer-${id}`),
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
        await probe.rename(eventId, `Fault night ${renamed}`);
        createdDuring = (await createEvent(booking, `new${id}`, 4)).eventId;
        await probe.expectWaiting([eventId, createdDuring]);
      },
    );
    await ctx.check(
      'during',
      'ticket-booking-worker',
      'the relay retries, parks nothing: outbox retry count rises, dead does not',
      () => probe.retriesWithoutParking(relayedBefore, 'the outage began'),
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
            const ids = await probe.searchIds(`es${id}`);
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
        await probe.searchable(renamed, eventId, left);
        await probe.searchable(`new${id}`, createdDuring, Math.max(1, CATCH_UP_MS - (Date.now() - back)));
        ctx.log(
          `outage changes searchable ${((Date.now() - back) / 1000).toFixed(1)} s after Elasticsearch was back`,
        );
      },
    );
    await ctx.check(
      'after',
      'ticket-booking-worker',
      'the outbox is empty: nothing parked, nothing left behind',
      () => probe.expectOutboxEmpty([eventId, createdDuring]),
    );
    await ctx.check(
      'after',
      'ticket-booking-worker',
      `a new change is searchable within the normal ${LAG_MS / 1000} s again`,
      async () => {
        await probe.rename(createdDuring, `Fault night again${id}`);
        await probe.searchable(`again${id}`, createdDuring, LAG_MS);
      },
    );
  },
};
