import { randomUUID } from 'node:crypto';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { inTransaction } from '@sdlab/service-kit/postgres';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { BookingErrors, unavailable } from '../errors.ts';
import { Attr, type ServiceMetrics } from '../telemetry.ts';
import { isConnectionError } from './pg-errors.ts';
import type { SeatLocks } from './seat-locks.ts';

export type HoldStatus = 'ACTIVE' | 'CONFIRMING' | 'CONFIRMED' | 'CANCELLED' | 'EXPIRED' | 'RELEASED';

export interface HeldSeat {
  id: number;
  section: string;
  row: number;
  number: number;
  priceCents: number;
}

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

interface HoldRow {
  id: string;
  event_id: string;
  user_id: string;
  seat_ids: string[];
  amount_cents: string;
  status: HoldStatus;
  expires_at: Date;
  created_at: Date;
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

export const HOLD_COLUMNS = 'id, event_id, user_id, seat_ids, amount_cents, status, expires_at, created_at';

/**
 * A hold in two layers [004:1120-1126]:
 *  1. Redis: a lock per seat (SET NX PX, all seats in one script). It turns most losers away
 *     before they reach Postgres — under an on-sale rush that is nearly everyone.
 *  2. Postgres: one transaction moves the seats AVAILABLE → HELD with a conditional UPDATE that
 *     touches only rows still AVAILABLE, locking them in id order (no deadlock between
 *     overlapping multi-seat holds). Fewer rows than asked = someone else got one: roll back,
 *     all or nothing. This layer alone is the correctness guarantee: with Redis down, or a lock
 *     lost to eviction, a seat still cannot be held (or sold) twice.
 */
export class HoldService {
  readonly #pool: pg.Pool;
  readonly #locks: SeatLocks;
  readonly #metrics: ServiceMetrics;
  readonly #log: FastifyBaseLogger;
  readonly #ttlMs: number;
  readonly #redisPolicy: 'db-only' | 'fail-closed';

  constructor(deps: {
    pool: pg.Pool;
    locks: SeatLocks;
    metrics: ServiceMetrics;
    log: FastifyBaseLogger;
    ttlMs: number;
    redisPolicy: 'db-only' | 'fail-closed';
  }) {
    this.#pool = deps.pool;
    this.#locks = deps.locks;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#ttlMs = deps.ttlMs;
    this.#redisPolicy = deps.redisPolicy;
  }

  async hold(
    eventId: string,
    userId: string,
    requested: number[],
  ): Promise<{ hold: Hold; seats: HeldSeat[] }> {
    const seatIds = [...new Set(requested)].sort((a, b) => a - b);
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
        throw unavailable('lock', error);
      }
      this.#metrics.lockBypass.inc();
      span?.setAttribute(Attr.lockMode, 'db-only');
      this.#log.warn(
        { err: (error as Error).message, eventId },
        'seat locks unavailable; the database decides alone',
      );
    }

    try {
      const result = await inTransaction(this.#pool, (client) =>
        this.#holdInDatabase(client, eventId, userId, seatIds, holdId),
      );
      this.#metrics.holds.inc({ outcome: 'held' });
      this.#metrics.holdSeats.observe(seatIds.length);
      return result;
    } catch (error) {
      if (locked) await this.#locks.release(eventId, seatIds, holdId).catch(() => undefined);
      if (isConnectionError(error)) throw unavailable('store', error);
      throw error;
    }
  }

  async #holdInDatabase(
    client: pg.PoolClient,
    eventId: string,
    userId: string,
    seatIds: number[],
    holdId: string,
  ): Promise<{ hold: Hold; seats: HeldSeat[] }> {
    const ttl = this.#ttlMs;
    const { rows } = await client.query<{
      id: string;
      section: string;
      row_number: number;
      seat_number: number;
      price_cents: number;
    }>(
      `UPDATE booking.seats s
       SET status = 'HELD', hold_id = $3, held_until = now() + make_interval(secs => $4::double precision / 1000)
       FROM (SELECT id FROM booking.seats
             WHERE event_id = $1 AND id = ANY($2::bigint[]) AND status = 'AVAILABLE'
             ORDER BY id FOR UPDATE) AS free
       WHERE s.id = free.id
       RETURNING s.id, s.section, s.row_number, s.seat_number, s.price_cents`,
      [eventId, seatIds, holdId, ttl],
    );
    if (rows.length < seatIds.length) {
      const got = new Set(rows.map((r) => Number(r.id)));
      const missing = seatIds.filter((id) => !got.has(id));
      const { rows: existing } = await client.query<{ id: string }>(
        'SELECT id FROM booking.seats WHERE event_id = $1 AND id = ANY($2::bigint[])',
        [eventId, missing],
      );
      const exists = new Set(existing.map((r) => Number(r.id)));
      const unknown = missing.filter((id) => !exists.has(id));
      if (unknown.length > 0) {
        this.#metrics.holds.inc({ outcome: 'not_found' });
        throw new BookingErrors.SeatsNotFound(unknown.join(', '));
      }
      this.#conflict('postgres', missing);
    }
    const seats = rows
      .map((r) => ({
        id: Number(r.id),
        section: r.section,
        row: r.row_number,
        number: r.seat_number,
        priceCents: r.price_cents,
      }))
      .sort((a, b) => a.id - b.id);
    const amount = seats.reduce((sum, s) => sum + s.priceCents, 0);
    const inserted = await client.query<HoldRow>(
      `INSERT INTO booking.holds (id, event_id, user_id, seat_ids, amount_cents, status, expires_at)
       VALUES ($1, $2, $3, $4, $5, 'ACTIVE', now() + make_interval(secs => $6::double precision / 1000))
       RETURNING ${HOLD_COLUMNS}`,
      [holdId, eventId, userId, seatIds, amount, ttl],
    );
    return { hold: toHold(inserted.rows[0]!), seats };
  }

  #conflict(layer: 'redis' | 'postgres', taken: number[]): never {
    this.#metrics.holds.inc({ outcome: 'conflict' });
    this.#metrics.holdConflicts.inc({ layer });
    const span = trace.getActiveSpan();
    span?.setAttributes({ [Attr.conflictLayer]: layer, [Attr.takenSeats]: taken.join(',') });
    span?.setStatus({ code: SpanStatusCode.UNSET });
    const error = new BookingErrors.SeatsTaken(taken.join(', ')) as Error & { takenSeatIds?: number[] };
    error.takenSeatIds = taken;
    throw error;
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
      await client.query(
        `UPDATE booking.seats SET status = 'AVAILABLE', hold_id = NULL, held_until = NULL
         WHERE hold_id = $1 AND status = 'HELD'`,
        [holdId],
      );
      const updated = await client.query<HoldRow>(
        `UPDATE booking.holds SET status = 'CANCELLED', updated_at = now() WHERE id = $1 RETURNING ${HOLD_COLUMNS}`,
        [holdId],
      );
      this.#metrics.holdsReleased.inc({ reason: 'cancelled' });
      return toHold(updated.rows[0]!);
    });
    await this.#locks.release(hold.eventId, hold.seatIds, hold.id).catch(() => undefined);
    return hold;
  }
}

function isCodedError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SDLAB_');
}
