/**
 * Elasticsearch stays up but answers slowly: ticket-booking and its worker reach it through a
 * latency proxy. First +1 s, under search's timeout (SEARCH_TIMEOUT_MS, 2 s): search still
 * answers, only later, and the worker stays ready. Then +4 s, twice the timeout: the client gives
 * up at the timeout (it does not retry a timeout), so search answers a coded 503 after about 2 s
 * rather than hanging for the latency. Holds, purchases and event details never ask Elasticsearch
 * and stay fast; catalogue changes commit to the outbox. The worker's relay times out like search
 * and retries without parking, and its /readyz names elasticsearch (its ping times out too):
 * indexing is its job. When the latency is gone the changes become searchable, and the index
 * holds each of the run's events once, at the version Postgres has.
 */
import { BookingSearch } from '../booking-search.ts';
import { type Answer, assert, call, expectProblem, expectStatus, query } from '../probe.ts';
import type { FaultScenario } from '../scenario.ts';
import { createEvent, expectAliveNotReady, expectReadiness, runId } from '../services.ts';

/** Below the search timeout: absorbed, search answers later. */
const MILD_MS = 1_000;
/** Above it: every Elasticsearch call times out. */
const SLOW_MS = 4_000;
/** A search gives up at the timeout; this much more for the rest of the request on a loaded machine. */
const MARGIN_MS = 1_000;
/** What never asks Elasticsearch answers well within the 2 s a search now waits. */
const UNAFFECTED_MS = 1_500;
/** Documented search lag in normal operation: ~1 s, P95 < 5 s (ticket-booking README). */
const LAG_MS = 5_000;
/**
 * A row that timed out is tried again within 5 s (a timeout is transient for the relay), then
 * the index refresh (1 s); 20 s leaves room for a loaded machine, as in elasticsearch-down.
 */
const CATCH_UP_MS = 20_000;

export const scenario: FaultScenario = {
  name: 'elasticsearch-slow',
  title:
    'Elasticsearch answers late; search fails fast at its timeout, booking stays fast, search catches up',
  server: 'elasticsearch',
  kind: 'slow',
  services: ['ticket-booking', 'ticket-booking-worker'],
  async run(ctx) {
    const id = runId();
    const booking = ctx.url('ticket-booking');
    const worker = ctx.url('ticket-booking-worker');
    const env = ctx.env('ticket-booking');
    const bookingDb = env.DATABASE_URL!;
    const searchTimeoutMs = Number(env.SEARCH_TIMEOUT_MS ?? 2_000);
    // Elasticsearch's address as the processes have it (the proxy; no added latency after the fault).
    const index = `${env.ELASTICSEARCH_URL}/${env.SEARCH_INDEX ?? 'booking-events'}`;
    if (MILD_MS >= searchTimeoutMs || searchTimeoutMs + MARGIN_MS >= SLOW_MS) {
      throw new Error(
        `SEARCH_TIMEOUT_MS ${searchTimeoutMs} must lie between ${MILD_MS} and ${SLOW_MS - MARGIN_MS}`,
      );
    }

    const probe = new BookingSearch(ctx);
    const fast = (answer: Answer, what: string) =>
      assert(answer.ms < UNAFFECTED_MS, `${what} took ${answer.ms.toFixed(0)} ms`);

    // ---------------------------------------------------------------- before
    const { eventId, seatIds } = await createEvent(booking, `es${id}`, 12);
    await ctx.check(
      'before',
      'ticket-booking-worker',
      `a new event is searchable within ${LAG_MS / 1000} s`,
      () => probe.searchable(`es${id}`, eventId, LAG_MS),
    );
    await ctx.check('before', 'ticket-booking', 'ready (readyz 200)', () => expectReadiness(booking, 200));

    // ---------------------------------------------------------------- during: under the timeout
    await ctx.fault.slow(MILD_MS);
    ctx.log(`every Elasticsearch answer ${MILD_MS} ms late (search timeout ${searchTimeoutMs} ms)`);
    await ctx.check(
      'during',
      'ticket-booking',
      `+${MILD_MS / 1000} s: search still answers (200, the event found), later but within the timeout`,
      async () => {
        const answer = await probe.search(`es${id}`);
        expectStatus(answer, 200, 'search');
        const ids = (answer.body as { data: { id: string }[] }).data.map((e) => e.id);
        assert(ids.includes(eventId), `search returns ${ids.join(',') || 'nothing'}`);
        // At least the added latency: the answer really came through the slow link.
        assert(
          answer.ms >= MILD_MS && answer.ms < searchTimeoutMs,
          `search took ${answer.ms.toFixed(0)} ms, not ${MILD_MS}–${searchTimeoutMs}`,
        );
        ctx.log(`search answered in ${answer.ms.toFixed(0)} ms`);
      },
    );
    await ctx.check('during', 'ticket-booking-worker', `+${MILD_MS / 1000} s: stays ready (readyz 200)`, () =>
      expectReadiness(worker, 200),
    );

    // ---------------------------------------------------------------- during: over the timeout
    const relayedBefore = await probe.relayCounts();
    await ctx.fault.slow(SLOW_MS);
    const slowSince = Date.now();
    ctx.log(`every Elasticsearch answer ${SLOW_MS} ms late`);

    await ctx.check(
      'during',
      'ticket-booking',
      `+${SLOW_MS / 1000} s: search answers 503 problem+json SEARCH_UNAVAILABLE with Retry-After, in < ${(searchTimeoutMs + MARGIN_MS) / 1000} s (at its timeout, not after the latency)`,
      async () => {
        const took: string[] = [];
        for (const path of [`/events/search?q=es${id}`, `/events/suggest?q=es${id.slice(0, 3)}`]) {
          const answer = await call(`${booking}${path}`);
          expectProblem(answer, 503, 'SDLAB_BOOKING_SEARCH_UNAVAILABLE', path);
          assert(answer.headers.get('retry-after') !== null, `${path}: no Retry-After`);
          assert(answer.ms < searchTimeoutMs + MARGIN_MS, `${path} took ${answer.ms.toFixed(0)} ms`);
          took.push(`${path.split('?')[0]} ${answer.ms.toFixed(0)} ms`);
        }
        ctx.log(`search gave up after ${took.join(', ')}`);
      },
    );
    await ctx.check(
      'during',
      'ticket-booking',
      `event details and the seat map answer, each in < ${UNAFFECTED_MS} ms (Redis/Postgres)`,
      async () => {
        const details = await call(`${booking}/events/${eventId}`);
        expectStatus(details, 200, 'event details');
        fast(details, 'event details');
        const seats = await call(`${booking}/events/${eventId}/availability`);
        expectStatus(seats, 200, 'availability');
        fast(seats, 'availability');
      },
    );
    await ctx.check(
      'during',
      'ticket-booking',
      `a hold and its purchase go through (201, CONFIRMED), each in < ${UNAFFECTED_MS} ms`,
      () => probe.holdAndBuy(eventId, seatIds.slice(0, 3), `buyer-${id}`, fast),
    );
    await ctx.check(
      'during',
      'ticket-booking',
      'stays ready (readyz 200, fast): its readiness does not ask Elasticsearch',
      async () => {
        const answer = await call(`${booking}/readyz`);
        expectStatus(answer, 200, 'readyz');
        fast(answer, 'readyz');
      },
    );

    const renamed = `renamed${id}`;
    let createdDuring = '';
    await ctx.check(
      'during',
      'ticket-booking',
      'catalogue changes commit at once and wait in the outbox',
      async () => {
        fast(await probe.rename(eventId, `Fault night ${renamed}`), 'rename');
        const started = performance.now();
        createdDuring = (await createEvent(booking, `new${id}`, 4)).eventId;
        const ms = performance.now() - started;
        // Three requests: the venue, the event, its seat list.
        assert(ms < 3 * UNAFFECTED_MS, `creating an event took ${ms.toFixed(0)} ms`);
        await probe.expectWaiting([eventId, createdDuring]);
      },
    );
    await ctx.check(
      'during',
      'ticket-booking-worker',
      'the relay times out, retries, parks nothing: outbox retry count rises, dead does not',
      () => probe.retriesWithoutParking(relayedBefore, 'the slowness began'),
    );
    await ctx.check(
      'during',
      'ticket-booking-worker',
      'alive (healthz 200), not ready: readyz 503 names elasticsearch (its ping times out)',
      () => expectAliveNotReady(worker, 'elasticsearch'),
    );
    // Not a promise, what the data shows: the latency is on the answers, so the relay's timed-out
    // bulk requests were carried out; only their acknowledgements were late.
    try {
      const doc = await call(`${index}/_doc/${eventId}`, { timeoutMs: SLOW_MS + 10_000 });
      const [row] = await query<{ version: string }>(
        bookingDb,
        'SELECT version FROM booking.events WHERE id = $1',
        [eventId],
      );
      ctx.log(
        `read directly (slowly, ${doc.ms.toFixed(0)} ms): the index holds version ${(doc.body as { _version?: number })._version} of the renamed event, Postgres ${row?.version}`,
      );
    } catch (error) {
      ctx.log(`could not read the index directly: ${String(error)}`);
    }

    // ---------------------------------------------------------------- after
    await ctx.fault.slow(0);
    ctx.log(
      `latency removed after ${((Date.now() - slowSince) / 1000).toFixed(1)} s at +${SLOW_MS / 1000} s`,
    );
    const back = Date.now();

    await ctx.check('after', 'ticket-booking-worker', 'ready again (readyz 200) within 30 s', () =>
      ctx.eventually(() => expectReadiness(worker, 200), 30_000, 500),
    );
    await ctx.check(
      'after',
      'ticket-booking',
      'search answers again, in < 1 s, with what was indexed before',
      () =>
        ctx.eventually(
          async () => {
            const answer = await probe.search(`es${id}`);
            expectStatus(answer, 200, 'search');
            assert(answer.ms < 1_000, `search took ${answer.ms.toFixed(0)} ms`);
            const ids = (answer.body as { data: { id: string }[] }).data.map((e) => e.id);
            assert(ids.includes(eventId), `search returns ${ids.join(',') || 'nothing'}`);
          },
          30_000,
          500,
        ),
    );
    await ctx.check(
      'after',
      'ticket-booking-worker',
      `changes made while it was slow become searchable within ${CATCH_UP_MS / 1000} s`,
      async () => {
        await probe.searchable(renamed, eventId, Math.max(1, CATCH_UP_MS - (Date.now() - back)));
        await probe.searchable(`new${id}`, createdDuring, Math.max(1, CATCH_UP_MS - (Date.now() - back)));
        ctx.log(
          `changes searchable ${((Date.now() - back) / 1000).toFixed(1)} s after the latency was removed`,
        );
      },
    );
    // Searchable does not mean relayed here: the index may hold a change whose bulk timed out.
    await ctx.check(
      'after',
      'ticket-booking-worker',
      `the outbox empties within ${CATCH_UP_MS / 1000} s: nothing parked, nothing left behind`,
      async () => {
        await ctx.eventually(
          () => probe.expectOutboxEmpty([eventId, createdDuring]),
          Math.max(1, CATCH_UP_MS - (Date.now() - back)),
          250,
        );
        const stale = (await probe.relayCounts()).stale - relayedBefore.stale;
        ctx.log(
          `outbox empty ${((Date.now() - back) / 1000).toFixed(1)} s after the latency was removed; ${stale} re-sent row(s) found the index already at their version (409, counted stale)`,
        );
      },
    );
    await ctx.check(
      'after',
      'ticket-booking-worker',
      "the index holds each of the run's events once, with Postgres' name and version, and nothing else of the run",
      async () => {
        const events = await query<{ id: string; name: string; version: string }>(
          bookingDb,
          'SELECT id, name, version FROM booking.events WHERE id = ANY($1::uuid[])',
          [[eventId, createdDuring]],
        );
        // Every name the run gave an event, the old one included: a stray or duplicated
        // document of the run would match one of them.
        const found = await call(`${index}/_search`, {
          json: {
            size: 50,
            version: true,
            query: { match: { name: `es${id} ${renamed} new${id}` } },
          },
        });
        expectStatus(found, 200, 'Elasticsearch search');
        const hits = (
          found.body as { hits: { hits: { _id: string; _version: number; _source: { name: string } }[] } }
        ).hits.hits;
        const seen = hits.map((h) => `${h._id} v${h._version} "${h._source.name}"`).sort();
        const expected = events.map((e) => `${e.id} v${e.version} "${e.name}"`).sort();
        assert(
          JSON.stringify(seen) === JSON.stringify(expected),
          `index: ${seen.join(', ') || 'nothing'}; Postgres: ${expected.join(', ')}`,
        );
      },
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
