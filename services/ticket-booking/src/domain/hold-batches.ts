import { type Context, context } from '@opentelemetry/api';
import { inTransaction } from '@sdlab/service-kit/postgres';
import type pg from 'pg';
import {
  type BestAvailableAsk,
  type HoldAsk,
  type HoldOutcome,
  holdSeatsBatch,
  lockBatch,
} from './seat-states.ts';

interface Waiting {
  ask: HoldAsk;
  /** A best-available hold's pick scope (`pickScope`). */
  scope: string | undefined;
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
 * other holds of its own batch. Each hold is still all or nothing, and a batch that fails (the
 * database unreachable) fails every hold in it, none half-done.
 *
 * Best-available holds of a batch pick from one scope (an event, one section or all of them), so
 * one pick serves them all, and only one batch per scope is in Postgres at a time: the holds that
 * arrive meanwhile go together in the next one. Concurrent picks from one scope would each skip
 * the others' locked seats (a row lock checked per seat) and commit more often: on the hot
 * event's bench (shared machine) Postgres spent 206-728 µs per hold with up to four picks in
 * flight, 66-112 µs with one.
 */
export class HoldBatches {
  readonly #pool: pg.Pool;
  readonly #ttlMs: number;
  readonly #maxOpenHolds: number;
  readonly #maxBatch: number;
  readonly #inFlight: number;
  #running = 0;
  #queue: Waiting[] = [];
  /** Pick scopes with a batch in Postgres. */
  readonly #picking = new Set<string>();

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
    const scope = ask.kind === 'best-available' ? pickScope(ask) : undefined;
    return new Promise((resolve, reject) => {
      this.#queue.push({ ask, scope, context: context.active(), resolve, reject });
      // A pick of a scope in Postgres goes when that batch ends (which starts the next one);
      // looking through the queue for it on every arrival would cost O(queue) each time.
      if (scope === undefined || !this.#picking.has(scope)) this.#start();
    });
  }

  #start(): void {
    while (this.#running < this.#inFlight && this.#queue.length > 0) {
      const { batch, scope } = this.#next();
      // What is left waits for a pick of its scope to finish.
      if (batch.length === 0) return;
      this.#running++;
      if (scope) this.#picking.add(scope);
      void this.#run(batch).finally(() => {
        this.#running--;
        if (scope) this.#picking.delete(scope);
        this.#start();
      });
    }
  }

  /**
   * The oldest waiting holds that share no seat and no user, up to `maxBatch`; best-available
   * holds only of one pick scope, and none of a scope that has a batch in Postgres.
   */
  #next(): { batch: Waiting[]; scope: string | undefined } {
    const batch: Waiting[] = [];
    const later: Waiting[] = [];
    const users = new Set<string>();
    const seats = new Set<number>();
    let scope: string | undefined;
    for (const waiting of this.#queue) {
      const { ask } = waiting;
      const fits =
        batch.length < this.#maxBatch &&
        !users.has(ask.userId) &&
        (ask.kind === 'seats'
          ? !ask.seatIds.some((id) => seats.has(id))
          : waiting.scope !== undefined &&
            (scope === undefined ? !this.#picking.has(waiting.scope) : waiting.scope === scope));
      if (!fits) {
        later.push(waiting);
        continue;
      }
      batch.push(waiting);
      users.add(ask.userId);
      if (ask.kind === 'seats') for (const id of ask.seatIds) seats.add(id);
      else scope ??= waiting.scope;
    }
    this.#queue = later;
    return { batch, scope };
  }

  async #run(batch: Waiting[]): Promise<void> {
    // The statements' spans go to the first hold's trace; the others carry the batch size.
    await context.with(batch[0]!.context, async () => {
      try {
        const outcomes = await inTransaction(this.#pool, async (client) => {
          await lockBatch(
            client,
            batch.map((w) => w.ask),
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

/** Where a best-available hold picks from, as a key: its event, and its section or all of them. */
function pickScope(ask: BestAvailableAsk): string {
  // Section names are printable (schemas), so a NUL cannot occur in one.
  return ask.section === undefined ? ask.eventId : `${ask.eventId}\u0000${ask.section}`;
}
