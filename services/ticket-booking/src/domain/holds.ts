import { randomUUID } from 'node:crypto';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { inTransaction, isPostgresUnavailable } from '@sdlab/service-kit/postgres';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { BookingErrors } from '../errors.ts';
import { Attr, type ServiceMetrics } from '../telemetry.ts';
import type { EventCache } from './event-cache.ts';
import { HoldBatches } from './hold-batches.ts';
import type { SeatLocks } from './seat-locks.ts';
import { type HeldSeat, HOLD_COLUMNS, type HoldRow, type HoldStatus, release } from './seat-states.ts';
import type { SpentToken, WaitingRoom } from './waiting-room.ts';

export type { HeldSeat, HoldStatus } from './seat-states.ts';

export interface Hold {
  id: string;
  eventId: string;
  userId: string;
  seatIds: number[];
  amountCents: number;
  status: HoldStatus;
  expiresAt: string;
  createdAt: string;
}

export function toHold(row: HoldRow): Hold {
  return {
    id: row.id,
    eventId: row.event_id,
    userId: row.user_id,
    seatIds: row.seat_ids.map(Number),
    amountCents: Number(row.amount_cents),
    status: row.status,
    expiresAt: row.expires_at.toISOString(),
    createdAt: row.created_at.toISOString(),
  };
}

interface RequestOf {
  eventId: string;
  userId: string;
  /** The waiting room's access token, when the event has a room. */
  accessToken?: string | undefined;
}

/** A hold of the seats the buyer chose. */
export interface HoldRequest extends RequestOf {
  seatIds: number[];
}

/** A hold of `quantity` seats the service chooses: the best free ones (in `section`, if named). */
export interface BestAvailableRequest extends RequestOf {
  quantity: number;
  section?: string | undefined;
}

/**
 * A hold in two layers [004:1120-1126]:
 *  1. Redis: a lock per seat (SET NX PX, all seats in one script). It turns most losers away
 *     before they reach Postgres — under an on-sale rush that is nearly everyone.
 *  2. Postgres: one statement moves the seats AVAILABLE → HELD (seat-states.ts `holdSeatsBatch`),
 *     touching only rows still AVAILABLE, and only when every seat of the hold is: all or
 *     nothing. Concurrent holds share that statement and its commit (hold-batches.ts). This layer
 *     alone is the correctness guarantee: with Redis down, or a lock lost to eviction, a seat
 *     still cannot be held (or sold) twice.
 *
 * A best-available hold (`holdBestAvailable`) names no seats: the batch statement picks free ones
 * no other transaction has locked (SKIP LOCKED), so concurrent buyers never want the same seat
 * and there is nothing for the Redis layer to turn away; it goes to Postgres directly.
 */
export class HoldService {
  readonly #pool: pg.Pool;
  readonly #batches: HoldBatches;
  readonly #locks: SeatLocks;
  readonly #cache: EventCache;
  readonly #waitingRoom: WaitingRoom;
  readonly #metrics: ServiceMetrics;
  readonly #log: FastifyBaseLogger;
  readonly #ttlMs: number;
  readonly #maxSeats: number;
  readonly #maxActivePerUser: number;
  readonly #redisPolicy: 'db-only' | 'fail-closed';

  constructor(deps: {
    pool: pg.Pool;
    locks: SeatLocks;
    cache: EventCache;
    waitingRoom: WaitingRoom;
    metrics: ServiceMetrics;
    log: FastifyBaseLogger;
    ttlMs: number;
    maxSeats: number;
    maxActivePerUser: number;
    redisPolicy: 'db-only' | 'fail-closed';
    /** Group commit: holds per batch, and batches in Postgres at once (hold-batches.ts). */
    batch: { maxHolds: number; inFlight: number };
  }) {
    this.#pool = deps.pool;
    this.#batches = new HoldBatches({
      pool: deps.pool,
      ttlMs: deps.ttlMs,
      maxOpenHolds: deps.maxActivePerUser,
      maxBatch: deps.batch.maxHolds,
      inFlight: deps.batch.inFlight,
    });
    this.#locks = deps.locks;
    this.#cache = deps.cache;
    this.#waitingRoom = deps.waitingRoom;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#ttlMs = deps.ttlMs;
    this.#maxSeats = deps.maxSeats;
    this.#maxActivePerUser = deps.maxActivePerUser;
    this.#redisPolicy = deps.redisPolicy;
  }

  async hold(request: HoldRequest): Promise<{ hold: Hold; seats: HeldSeat[] }> {
    const seatIds = [...new Set(request.seatIds)].sort((a, b) => a - b);
    if (seatIds.length > this.#maxSeats) throw new BookingErrors.TooManySeats(this.#maxSeats);
    return this.#admitted(request, () => this.#hold(request, seatIds));
  }

  /** Holds the `quantity` best free seats of the event (of `section`), or none (409 SOLD_OUT). */
  async holdBestAvailable(request: BestAvailableRequest): Promise<{ hold: Hold; seats: HeldSeat[] }> {
    if (request.quantity > this.#maxSeats) throw new BookingErrors.TooManySeatsAsked(this.#maxSeats);
    return this.#admitted(request, () => this.#holdBest(request));
  }

  /** Runs `hold` once the request is admitted; a refused hold does not use up the admission. */
  async #admitted<T>(request: RequestOf, hold: () => Promise<T>): Promise<T> {
    const pass = await this.#admit(request);
    try {
      return await hold();
    } catch (error) {
      // Seats taken, sold out, a cap reached, Redis down: the buyer keeps their place.
      await pass?.refund().catch(() => undefined);
      throw error;
    }
  }

  async #holdBest(request: BestAvailableRequest): Promise<{ hold: Hold; seats: HeldSeat[] }> {
    const { eventId, userId, quantity, section } = request;
    const holdId = randomUUID();
    trace.getActiveSpan()?.setAttributes({
      [Attr.eventId]: eventId,
      [Attr.holdId]: holdId,
      [Attr.seatCount]: quantity,
      [Attr.lockMode]: 'skip-locked',
    });
    let outcome: Awaited<ReturnType<HoldBatches['hold']>>;
    try {
      outcome = await this.#batches.hold({
        kind: 'best-available',
        holdId,
        eventId,
        userId,
        quantity,
        section,
      });
    } catch (error) {
      if (isPostgresUnavailable(error)) throw new BookingErrors.StoreUnavailable({ cause: error });
      throw error;
    }
    const { seats, hold, onSale, openHolds, batchSize } = outcome;
    trace.getActiveSpan()?.setAttribute(Attr.holdBatchSize, batchSize);
    this.#metrics.holdBatchSize.observe(batchSize);
    if (!onSale) throw new BookingErrors.EventNotOnSale(eventId, 'cancelled');
    if (hold) {
      this.#metrics.holds.inc({ outcome: 'held' });
      this.#metrics.holdSeats.observe(quantity);
      return { hold: toHold(hold), seats };
    }
    if (openHolds >= this.#maxActivePerUser) {
      this.#metrics.holds.inc({ outcome: 'user_cap' });
      throw new BookingErrors.TooManyActiveHolds(this.#maxActivePerUser);
    }
    if (section !== undefined) {
      // Seats are never deleted: whether the section exists needs no transaction.
      const { rows } = await this.#pool.query({
        name: 'SELECT section exists',
        text: 'SELECT 1 FROM booking.seats WHERE event_id = $1 AND section = $2 LIMIT 1',
        values: [eventId, section],
      });
      if (rows.length === 0) {
        this.#metrics.holds.inc({ outcome: 'not_found' });
        throw new BookingErrors.SectionNotFound(section);
      }
    }
    this.#metrics.holds.inc({ outcome: 'sold_out' });
    throw new BookingErrors.SoldOut(section === undefined ? '' : ` in section "${section}"`, quantity);
  }

  async #hold(request: HoldRequest, seatIds: number[]): Promise<{ hold: Hold; seats: HeldSeat[] }> {
    const { eventId, userId } = request;
    const holdId = randomUUID();
    const span = trace.getActiveSpan();
    span?.setAttributes({ [Attr.eventId]: eventId, [Attr.holdId]: holdId, [Attr.seatCount]: seatIds.length });

    let locked = false;
    try {
      const { taken } = await this.#locks.acquire(eventId, seatIds, holdId, this.#ttlMs);
      if (taken.length > 0) this.#conflict('redis', taken);
      locked = true;
      span?.setAttribute(Attr.lockMode, 'redis');
    } catch (error) {
      if (isCodedError(error)) throw error;
      if (this.#redisPolicy === 'fail-closed') {
        this.#metrics.holds.inc({ outcome: 'unavailable' });
        throw new BookingErrors.LockUnavailable({ cause: error });
      }
      this.#metrics.lockBypass.inc();
      span?.setAttribute(Attr.lockMode, 'db-only');
      this.#log.warn(
        { err: (error as Error).message, eventId },
        'seat locks unavailable; the database decides alone',
      );
    }

    try {
      const result = await this.#holdInDatabase({ eventId, userId, seatIds, holdId });
      this.#metrics.holds.inc({ outcome: 'held' });
      this.#metrics.holdSeats.observe(seatIds.length);
      return result;
    } catch (error) {
      if (locked) await this.#locks.release(eventId, seatIds, holdId).catch(() => undefined);
      if (isPostgresUnavailable(error)) throw new BookingErrors.StoreUnavailable({ cause: error });
      throw error;
    }
  }

  /** The event must be on sale, and past its waiting room if it has one (its token spent). */
  async #admit(request: RequestOf): Promise<SpentToken | undefined> {
    const event = await this.#cache.get(request.eventId);
    if (!event) throw new BookingErrors.EventNotFound(request.eventId);
    if (event.status !== 'SCHEDULED')
      throw new BookingErrors.EventNotOnSale(request.eventId, event.status.toLowerCase());
    if (!event.waitingRoom) return undefined;
    try {
      const pass = await this.#waitingRoom.spend(request.accessToken, request.eventId, request.userId);
      this.#metrics.accessTokens.inc({ outcome: 'accepted' });
      return pass;
    } catch (error) {
      this.#metrics.accessTokens.inc({ outcome: 'rejected' });
      throw error;
    }
  }

  async #holdInDatabase(input: {
    eventId: string;
    userId: string;
    seatIds: number[];
    holdId: string;
  }): Promise<{ hold: Hold; seats: HeldSeat[] }> {
    const { seats, hold, onSale, openHolds, missing, batchSize } = await this.#batches.hold({
      kind: 'seats',
      ...input,
    });
    trace.getActiveSpan()?.setAttribute(Attr.holdBatchSize, batchSize);
    this.#metrics.holdBatchSize.observe(batchSize);
    // Cancelled after the hold was admitted (the event cache still said on sale).
    if (!onSale) throw new BookingErrors.EventNotOnSale(input.eventId, 'cancelled');
    if (hold) return { hold: toHold(hold), seats };
    if (openHolds >= this.#maxActivePerUser) {
      this.#metrics.holds.inc({ outcome: 'user_cap' });
      throw new BookingErrors.TooManyActiveHolds(this.#maxActivePerUser);
    }
    if (missing.length === 0) throw new Error(`hold ${input.holdId}: neither created nor refused`);
    // Seats are never deleted: whether the missing ones exist needs no transaction.
    const { rows: existing } = await this.#pool.query<{ id: string }>(
      'SELECT id FROM booking.seats WHERE event_id = $1 AND id = ANY($2::bigint[])',
      [input.eventId, missing],
    );
    const exists = new Set(existing.map((r) => Number(r.id)));
    const unknown = missing.filter((id) => !exists.has(id));
    if (unknown.length > 0) {
      this.#metrics.holds.inc({ outcome: 'not_found' });
      throw new BookingErrors.SeatsNotFound(unknown.join(', '));
    }
    this.#conflict('postgres', missing);
  }

  #conflict(layer: 'redis' | 'postgres', taken: number[]): never {
    this.#metrics.holds.inc({ outcome: 'conflict' });
    this.#metrics.holdConflicts.inc({ layer });
    const span = trace.getActiveSpan();
    span?.setAttributes({ [Attr.conflictLayer]: layer, [Attr.takenSeats]: taken.join(',') });
    span?.setStatus({ code: SpanStatusCode.UNSET });
    throw seatsTaken(taken);
  }

  async get(holdId: string, userId: string): Promise<Hold> {
    const { rows } = await this.#pool.query<HoldRow>(
      `SELECT ${HOLD_COLUMNS} FROM booking.holds WHERE id = $1 AND user_id = $2`,
      [holdId, userId],
    );
    if (!rows[0]) throw new BookingErrors.HoldNotFound(holdId);
    return toHold(rows[0]);
  }

  /** Cancels an ACTIVE hold: seats back to AVAILABLE, locks released. Cancelling twice is fine. */
  async cancel(holdId: string, userId: string): Promise<Hold> {
    const hold = await inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<HoldRow>(
        `SELECT ${HOLD_COLUMNS} FROM booking.holds WHERE id = $1 AND user_id = $2 FOR UPDATE`,
        [holdId, userId],
      );
      const row = rows[0];
      if (!row) throw new BookingErrors.HoldNotFound(holdId);
      if (row.status === 'CANCELLED' || row.status === 'EXPIRED' || row.status === 'RELEASED')
        return toHold(row);
      if (row.status !== 'ACTIVE') throw new BookingErrors.HoldNotActive(holdId, row.status.toLowerCase());
      await release(client, [holdId], 'CANCELLED');
      this.#metrics.holdsReleased.inc({ reason: 'cancelled' });
      return { ...toHold(row), status: 'CANCELLED' as const };
    });
    await this.#locks.release(hold.eventId, hold.seatIds, hold.id).catch(() => undefined);
    return hold;
  }
}

/** The coded 409, with the seats a client should stop offering as a problem member. */
function seatsTaken(taken: number[]): Error {
  return Object.assign(new BookingErrors.SeatsTaken(taken.join(', ')), {
    problemExtensions: { takenSeatIds: taken },
  });
}

function isCodedError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SDLAB_');
}
