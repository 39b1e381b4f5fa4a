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
import { type Answer, assert, call, expectProblem, expectStatus, query } from '../probe.ts';
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

    const search = (q: string) => call(`${booking}/events/search?q=${encodeURIComponent(q)}&size=50`);
    const searchIds = async (q: string) => {
      const answer = await search(q);
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
    const fast = (answer: Answer, what: string) =>
      assert(answer.ms < UNAFFECTED_MS, `${what} took ${answer.ms.toFixed(0)} ms`);
    const relayed = (outcome: string) => metric(worker, 'sdlab_booking_outbox_relayed_total', { outcome });

    // ---------------------------------------------------------------- before
    const { eventId, seatIds } = await createEvent(booking, `es${id}`, 12);
    await ctx.check(
      'before',
      'ticket-booking-worker',
      `a new event is searchable within ${LAG_MS / 1000} s`,
      () => searchable(`es${id}`, eventId, LAG_MS),
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
        const answer = await search(`es${id}`);
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
    const relayedBefore = {
      retry: await relayed('retry'),
      dead: await relayed('dead'),
      stale: await relayed('stale'),
    };
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
      async () => {
        // The provider declines 2 % of cards at random, so up to 3 tries.
        const user = `buyer-${id}`;
        for (let attempt = 0; attempt < 3; attempt++) {
          const held = await hold(booking, eventId, user, [seatIds[attempt]!]);
          expectStatus(held, 201, 'hold');
          fast(held, 'hold');
          const holdId = (held.body as { hold: { id: string } }).hold.id;
          const bought = await call(`${booking}/holds/${holdId}/purchase`, {
            headers: { ...(await as(user)), 'idempotency-key': `${user}-${attempt}` },
            json: { paymentMethod: 'pm_card_visa' },
          });
          fast(bought, 'purchase');
          if (bought.status === 402) continue;
          expectStatus(bought, 201, 'purchase');
          assert((bought.body as { status: string }).status === 'CONFIRMED', `purchase ${bought.text}`);
          return;
        }
        throw new Error('three purchases in a row declined');
      },
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
        const patch = await call(`${booking}/admin/events/${eventId}`, {
          method: 'PATCH',
          headers: ADMIN,
          json: { name: `Fault night ${renamed}` },
        });
        expectStatus(patch, 200, 'rename event');
        fast(patch, 'rename');
        const started = performance.now();
        createdDuring = (await createEvent(booking, `new${id}`, 4)).eventId;
        const ms = performance.now() - started;
        // Three requests: the venue, the event, its seat list.
        assert(ms < 3 * UNAFFECTED_MS, `creating an event took ${ms.toFixed(0)} ms`);
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
      'the relay times out, retries, parks nothing: outbox retry count rises, dead does not',
      () =>
        ctx.eventually(
          async () => {
            const retries = (await relayed('retry')) - relayedBefore.retry;
            const dead = (await relayed('dead')) - relayedBefore.dead;
            assert(retries > 0 && dead === 0, `since the slowness began: ${retries} retries, ${dead} parked`);
          },
          15_000,
          500,
        ),
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
            const answer = await search(`es${id}`);
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
        await searchable(renamed, eventId, Math.max(1, CATCH_UP_MS - (Date.now() - back)));
        await searchable(`new${id}`, createdDuring, Math.max(1, CATCH_UP_MS - (Date.now() - back)));
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
          Math.max(1, CATCH_UP_MS - (Date.now() - back)),
          250,
        );
        const stale = (await relayed('stale')) - relayedBefore.stale;
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
