/**
 * Ticket booking's search path as the two Elasticsearch scenarios (down, slow) probe it: search
 * itself, a purchase that must not need it, catalogue changes that wait in the outbox while
 * Elasticsearch cannot take them, the worker's relay retrying them without parking any, and the
 * outbox emptying once it can. The scenarios keep their own promises and timings.
 */
import { type Answer, assert, call, expectStatus, query } from './probe.ts';
import type { FaultContext } from './scenario.ts';
import { ADMIN, as, hold, metric } from './services.ts';

/** Counts of the relay's outcomes (sdlab_booking_outbox_relayed_total) at one moment. */
export interface RelayCounts {
  retry: number;
  dead: number;
  stale: number;
}

export class BookingSearch {
  readonly #ctx: FaultContext;
  readonly #booking: string;
  readonly #worker: string;
  readonly #db: string;

  constructor(ctx: FaultContext) {
    this.#ctx = ctx;
    this.#booking = ctx.url('ticket-booking');
    this.#worker = ctx.url('ticket-booking-worker');
    this.#db = ctx.env('ticket-booking').DATABASE_URL!;
  }

  search(q: string): Promise<Answer> {
    return call(`${this.#booking}/events/search?q=${encodeURIComponent(q)}&size=50`);
  }

  /** Event ids a search for `q` returns (it must answer 200). */
  async searchIds(q: string): Promise<string[]> {
    const answer = await this.search(q);
    expectStatus(answer, 200, `search ${q}`);
    return (answer.body as { data: { id: string }[] }).data.map((e) => e.id);
  }

  /** Waits until a search for `q` returns `eventId`. */
  searchable(q: string, eventId: string, withinMs: number): Promise<void> {
    return this.#ctx.eventually(
      async () => {
        const ids = await this.searchIds(q);
        assert(ids.includes(eventId), `search "${q}" returns ${ids.length} events, not ${eventId}`);
      },
      withinMs,
      250,
    );
  }

  /**
   * A hold then its purchase, ending CONFIRMED; `each` sees every answer. The provider declines
   * 2 % of cards at random, so up to 3 tries.
   */
  async holdAndBuy(
    eventId: string,
    seatIds: number[],
    user: string,
    each: (answer: Answer, what: string) => void = () => undefined,
  ): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const held = await hold(this.#booking, eventId, user, [seatIds[attempt]!]);
      expectStatus(held, 201, 'hold');
      each(held, 'hold');
      const holdId = (held.body as { hold: { id: string } }).hold.id;
      const bought = await call(`${this.#booking}/holds/${holdId}/purchase`, {
        headers: { ...(await as(user)), 'idempotency-key': `${user}-${attempt}` },
        json: { paymentMethod: 'pm_card_visa' },
      });
      each(bought, 'purchase');
      if (bought.status === 402) continue;
      expectStatus(bought, 201, 'purchase');
      assert((bought.body as { status: string }).status === 'CONFIRMED', `purchase ${bought.text}`);
      return;
    }
    throw new Error('three purchases in a row declined');
  }

  /** Renames an event (an admin PATCH, which must answer 200). */
  async rename(eventId: string, name: string): Promise<Answer> {
    const patch = await call(`${this.#booking}/admin/events/${eventId}`, {
      method: 'PATCH',
      headers: ADMIN,
      json: { name },
    });
    expectStatus(patch, 200, 'rename event');
    return patch;
  }

  /** Both events have a change waiting in the outbox (not parked). */
  async expectWaiting(eventIds: string[]): Promise<void> {
    const rows = await query<{ aggregate_id: string }>(
      this.#db,
      'SELECT aggregate_id FROM booking.outbox WHERE aggregate_id = ANY($1::uuid[]) AND dead_at IS NULL',
      [eventIds],
    );
    const waiting = new Set(rows.map((r) => r.aggregate_id));
    assert(
      eventIds.every((id) => waiting.has(id)),
      `outbox rows waiting: ${JSON.stringify(rows)}`,
    );
  }

  /** Nothing of these events is left in the outbox, waiting or parked. */
  async expectOutboxEmpty(eventIds: string[]): Promise<void> {
    const rows = await query(
      this.#db,
      `SELECT type, (payload->>'version')::int AS version, attempts, dead_at IS NOT NULL AS dead,
              left(last_error, 160) AS last_error
         FROM booking.outbox WHERE aggregate_id = ANY($1::uuid[]) ORDER BY id`,
      [eventIds],
    );
    assert(rows.length === 0, `outbox rows left: ${JSON.stringify(rows)}`);
  }

  /**
   * The relay's counts now. The scenarios compare deltas: a long-running worker (pnpm fault
   * against a user's stack) has counted before.
   */
  async relayCounts(): Promise<RelayCounts> {
    const relayed = (outcome: string) =>
      metric(this.#worker, 'sdlab_booking_outbox_relayed_total', { outcome });
    return { retry: await relayed('retry'), dead: await relayed('dead'), stale: await relayed('stale') };
  }

  /** Within 15 s the relay has retried since `before` and parked nothing. */
  retriesWithoutParking(before: RelayCounts, since: string): Promise<void> {
    return this.#ctx.eventually(
      async () => {
        const now = await this.relayCounts();
        const retries = now.retry - before.retry;
        const dead = now.dead - before.dead;
        assert(retries > 0 && dead === 0, `since ${since}: ${retries} retries, ${dead} parked`);
      },
      15_000,
      500,
    );
  }
}
