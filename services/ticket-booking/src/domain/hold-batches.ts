import { type Context, context } from '@opentelemetry/api';
import { inTransaction } from '@sdlab/service-kit/postgres';
import type pg from 'pg';
import {
  type HoldAsk,
  type HoldOutcome,
  holdSeatsBatch,
  lockUsers,
  type PickScope,
  picksFrom,
} from './seat-states.ts';

interface Waiting {
  ask: HoldAsk;
  context: Context;
  resolve: (outcome: HoldOutcome & { batchSize: number }) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for holds: the holds that arrive while earlier batches are in Postgres go
 * together in the next one — one transaction, one advisory-lock round trip, one statement and one
 * commit for all of them (seat-states.ts `holdSeatsBatch`). A hold arriving when fewer than
 * `inFlight` batches are running goes at once, alone, so a quiet service waits for nothing; under
 * a rush the batches grow by themselves, up to `maxBatch`.
 *
 * Two holds that share a seat or a user never go in the same batch (the later waits for the next
 * one): the statement decides each hold against what is committed and locked, not against the
 * other holds of its own batch. Best-available holds of a batch pick from one scope (an event,
 * one section or all), so they share one pick; a hold for another scope waits for the next batch. Each hold is still all or nothing, and a batch that fails (the
 * database unreachable) fails every hold in it, none half-done.
 */
export class HoldBatches {
  readonly #pool: pg.Pool;
  readonly #ttlMs: number;
  readonly #maxOpenHolds: number;
  readonly #maxBatch: number;
  readonly #inFlight: number;
  #running = 0;
  #queue: Waiting[] = [];

  constructor(deps: {
    pool: pg.Pool;
    ttlMs: number;
    maxOpenHolds: number;
    maxBatch: number;
    inFlight: number;
  }) {
    this.#pool = deps.pool;
    this.#ttlMs = deps.ttlMs;
    this.#maxOpenHolds = deps.maxOpenHolds;
    this.#maxBatch = deps.maxBatch;
    this.#inFlight = deps.inFlight;
  }

  /** Holds the seats of `ask` in the next batch; `batchSize` says how many holds went with it. */
  hold(ask: HoldAsk): Promise<HoldOutcome & { batchSize: number }> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ ask, context: context.active(), resolve, reject });
      this.#start();
    });
  }

  #start(): void {
    while (this.#running < this.#inFlight && this.#queue.length > 0) {
      const batch = this.#next();
      this.#running++;
      void this.#run(batch).finally(() => {
        this.#running--;
        this.#start();
      });
    }
  }

  /**
   * The oldest waiting holds that share no seat and no user, up to `maxBatch`; best-available
   * holds only of the first one's pick scope (event and section), so one pick serves them all.
   */
  #next(): Waiting[] {
    const batch: Waiting[] = [];
    const later: Waiting[] = [];
    const users = new Set<string>();
    const seats = new Set<number>();
    let scope: PickScope | undefined;
    for (const waiting of this.#queue) {
      const { ask } = waiting;
      const fits =
        batch.length < this.#maxBatch &&
        !users.has(ask.userId) &&
        (ask.kind === 'seats' ? !ask.seatIds.some((id) => seats.has(id)) : !scope || picksFrom(ask, scope));
      if (!fits) {
        later.push(waiting);
        continue;
      }
      batch.push(waiting);
      users.add(ask.userId);
      if (ask.kind === 'seats') for (const id of ask.seatIds) seats.add(id);
      else scope ??= { eventId: ask.eventId, section: ask.section };
    }
    this.#queue = later;
    return batch;
  }

  async #run(batch: Waiting[]): Promise<void> {
    // The statements' spans go to the first hold's trace; the others carry the batch size.
    await context.with(batch[0]!.context, async () => {
      try {
        const outcomes = await inTransaction(this.#pool, async (client) => {
          await lockUsers(
            client,
            batch.map((w) => w.ask.userId),
          );
          return holdSeatsBatch(
            client,
            batch.map((w) => w.ask),
            { ttlMs: this.#ttlMs, maxOpenHolds: this.#maxOpenHolds },
          );
        });
        batch.forEach((w, i) => {
          w.resolve({ ...outcomes[i]!, batchSize: batch.length });
        });
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    });
  }
}
