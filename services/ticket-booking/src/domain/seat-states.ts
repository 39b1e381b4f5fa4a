import type pg from 'pg';

/**
 * Every status change of a seat and of its hold, and nowhere else. A seat goes
 *
 *   AVAILABLE ──hold()──► HELD ──sell()──► SOLD
 *       ▲                  │
 *       └──release() / expireOverdue()──┘
 *
 * and its hold ACTIVE ──keepForPayment()──► CONFIRMING ──sell()──► CONFIRMED, or to CANCELLED,
 * RELEASED or EXPIRED when its seats go back on sale. Every function runs inside the caller's
 * transaction, except the sweeper's two, which make their own batches. The `seats_state` CHECK
 * constraint (migrations) pins which columns each seat status carries.
 */

export type HoldStatus = 'ACTIVE' | 'CONFIRMING' | 'CONFIRMED' | 'CANCELLED' | 'EXPIRED' | 'RELEASED';
/** The statuses a hold ends in when its seats go back on sale. */
export type ReleasedStatus = Extract<HoldStatus, 'CANCELLED' | 'RELEASED' | 'EXPIRED'>;

export interface HeldSeat {
  id: number;
  section: string;
  row: number;
  number: number;
  priceCents: number;
}

export interface HoldRow {
  id: string;
  event_id: string;
  user_id: string;
  seat_ids: string[];
  amount_cents: string;
  status: HoldStatus;
  expires_at: Date;
  created_at: Date;
}

export const HOLD_COLUMNS = 'id, event_id, user_id, seat_ids, amount_cents, status, expires_at, created_at';

const ttl = (param: string) => `now() + make_interval(secs => ${param}::double precision / 1000)`;

/**
 * AVAILABLE → HELD for every seat of `seatIds` still AVAILABLE, locked in id order (overlapping
 * multi-seat holds queue instead of deadlocking), and the ACTIVE hold row — in one statement, so
 * a hold costs Postgres one parse-free round trip (a named statement) instead of three.
 *
 * Nothing is taken when the user already has `maxOpenHolds` open holds (`openHolds` says how
 * many): the caller serialises one user's holds before this statement (an advisory lock), and this
 * statement's snapshot, taken after that lock, sees every hold committed before it. The hold row
 * is written only when every seat was taken; fewer seats than asked means the caller must roll
 * back (all or nothing).
 */
export async function holdSeats(
  client: pg.PoolClient,
  input: {
    holdId: string;
    eventId: string;
    userId: string;
    seatIds: number[];
    ttlMs: number;
    maxOpenHolds: number;
  },
): Promise<{ seats: HeldSeat[]; hold?: HoldRow; openHolds: number }> {
  const { rows } = await client.query<{
    open_holds: number;
    id: string | null;
    section: string;
    row_number: number;
    seat_number: number;
    price_cents: number;
    amount_cents: string | null;
    expires_at: Date;
    created_at: Date;
  }>({
    // The statement's name is its span's name too (pg.query:UPDATE …): what a trace of a hold shows.
    name: 'UPDATE seats AVAILABLE to HELD, INSERT hold',
    text: `WITH open AS (
       SELECT count(*)::int AS n FROM booking.holds
       WHERE user_id = $3 AND status IN ('ACTIVE', 'CONFIRMING') AND expires_at > now()),
     taken AS (
       UPDATE booking.seats s
       SET status = 'HELD', hold_id = $4, held_until = ${ttl('$5')}
       FROM (SELECT id FROM booking.seats
             WHERE event_id = $1 AND id = ANY($2::bigint[]) AND status = 'AVAILABLE'
               AND (SELECT n FROM open) < $6
             ORDER BY id FOR UPDATE) AS free
       WHERE s.id = free.id
       RETURNING s.id, s.section, s.row_number, s.seat_number, s.price_cents),
     hold AS (
       INSERT INTO booking.holds (id, event_id, user_id, seat_ids, amount_cents, status, expires_at)
       SELECT $4, $1, $3, $2::bigint[], sum(price_cents), 'ACTIVE', ${ttl('$5')} FROM taken
       HAVING count(*) = cardinality($2::bigint[])
       RETURNING amount_cents, expires_at, created_at)
     SELECT o.n AS open_holds, t.id, t.section, t.row_number, t.seat_number, t.price_cents,
            h.amount_cents, h.expires_at, h.created_at
     FROM open o LEFT JOIN taken t ON true LEFT JOIN hold h ON true`,
    values: [input.eventId, input.seatIds, input.userId, input.holdId, input.ttlMs, input.maxOpenHolds],
  });
  const openHolds = rows[0]?.open_holds ?? 0;
  const seats = rows
    .filter((r) => r.id !== null)
    .map((r) => ({
      id: Number(r.id),
      section: r.section,
      row: r.row_number,
      number: r.seat_number,
      priceCents: r.price_cents,
    }))
    .sort((a, b) => a.id - b.id);
  const first = rows[0];
  if (!first || first.amount_cents === null || seats.length < input.seatIds.length) {
    return { seats, openHolds };
  }
  return {
    seats,
    openHolds,
    hold: {
      id: input.holdId,
      event_id: input.eventId,
      user_id: input.userId,
      seat_ids: input.seatIds.map(String),
      amount_cents: first.amount_cents,
      status: 'ACTIVE',
      expires_at: first.expires_at,
      created_at: first.created_at,
    },
  };
}

/**
 * ACTIVE → CONFIRMING: the hold and its HELD seats are kept at least `graceMs` from now (never
 * shortened), so a payment in flight outlives the hold's own deadline. False when the hold was
 * no longer ACTIVE or no longer holds all its seats (the sweeper released them): nothing may be
 * charged then, and the caller rolls back.
 */
export async function keepForPayment(
  client: pg.PoolClient,
  hold: { id: string; seatCount: number },
  graceMs: number,
): Promise<boolean> {
  const updated = await client.query(
    `UPDATE booking.holds SET status = 'CONFIRMING', updated_at = now(),
       expires_at = greatest(expires_at, ${ttl('$2')})
     WHERE id = $1 AND status = 'ACTIVE'`,
    [hold.id, graceMs],
  );
  if (updated.rowCount !== 1) return false;
  const seats = await client.query(
    `UPDATE booking.seats SET held_until = greatest(held_until, ${ttl('$2')})
     WHERE hold_id = $1 AND status = 'HELD'`,
    [hold.id, graceMs],
  );
  return seats.rowCount === hold.seatCount;
}

/**
 * HELD → SOLD for every seat of the hold, and the hold CONFIRMED — or nothing, returning false,
 * when any of its seats is no longer HELD by it (the hold ran out and the seat went back on sale).
 */
export async function sell(
  client: pg.PoolClient,
  hold: { id: string; seatCount: number },
  purchaseId: string,
): Promise<boolean> {
  const { rows: held } = await client.query<{ id: string }>(
    `SELECT id FROM booking.seats WHERE hold_id = $1 AND status = 'HELD' ORDER BY id FOR UPDATE`,
    [hold.id],
  );
  if (held.length !== hold.seatCount) return false;
  await client.query(
    `UPDATE booking.seats SET status = 'SOLD', purchase_id = $2, held_until = NULL
     WHERE hold_id = $1 AND status = 'HELD'`,
    [hold.id, purchaseId],
  );
  await client.query(`UPDATE booking.holds SET status = 'CONFIRMED', updated_at = now() WHERE id = $1`, [
    hold.id,
  ]);
  return true;
}

/**
 * HELD → AVAILABLE for the seats this hold still holds, and the hold (if still open) to
 * `status`. The one way seats of a known hold go back on sale: cancel, decline, lost payment,
 * expiry found while paying.
 */
export async function release(client: pg.PoolClient, holdId: string, status: ReleasedStatus): Promise<void> {
  await client.query(
    `UPDATE booking.seats SET status = 'AVAILABLE', hold_id = NULL, held_until = NULL
     WHERE hold_id = $1 AND status = 'HELD'`,
    [holdId],
  );
  await client.query(
    `UPDATE booking.holds SET status = $2, updated_at = now() WHERE id = $1 AND status IN ('ACTIVE', 'CONFIRMING')`,
    [holdId, status],
  );
}

/**
 * The sweeper's HELD → AVAILABLE for seats past their deadline (up to `batch`), and their holds
 * EXPIRED. SKIP LOCKED on both: a seat or hold being confirmed right now is left for a later
 * pass, never waited on (a confirm may be waiting for these very seats), and two sweepers never
 * take the same rows.
 */
export async function expireOverdue(
  client: pg.PoolClient,
  batch: number,
): Promise<{ seats: { id: number; eventId: string; holdId: string }[]; holdsExpired: number }> {
  const { rows } = await client.query<{ id: string; event_id: string; hold_id: string }>(
    `WITH expired AS (
       SELECT id, hold_id FROM booking.seats
       WHERE status = 'HELD' AND held_until < now()
       ORDER BY held_until LIMIT $1 FOR UPDATE SKIP LOCKED)
     UPDATE booking.seats s SET status = 'AVAILABLE', hold_id = NULL, held_until = NULL
     FROM expired WHERE s.id = expired.id
     RETURNING s.id, s.event_id, expired.hold_id`,
    [batch],
  );
  const holdIds = [...new Set(rows.map((r) => r.hold_id))];
  const holds = holdIds.length
    ? await client.query(
        `UPDATE booking.holds SET status = 'EXPIRED', updated_at = now()
         WHERE id IN (SELECT id FROM booking.holds
                      WHERE id = ANY($1::uuid[]) AND status IN ('ACTIVE', 'CONFIRMING')
                      FOR UPDATE SKIP LOCKED)`,
        [holdIds],
      )
    : { rowCount: 0 };
  return {
    seats: rows.map((r) => ({ id: Number(r.id), eventId: r.event_id, holdId: r.hold_id })),
    holdsExpired: holds.rowCount ?? 0,
  };
}

/** Holds past their deadline that no longer hold a seat (skipped by `expireOverdue` while locked). */
export async function expireEmptyHolds(db: pg.Pool | pg.PoolClient, batch: number): Promise<number> {
  const expired = await db.query(
    `UPDATE booking.holds SET status = 'EXPIRED', updated_at = now()
     WHERE id IN (SELECT h.id FROM booking.holds h
                  WHERE h.status IN ('ACTIVE', 'CONFIRMING') AND h.expires_at < now()
                    AND NOT EXISTS (SELECT 1 FROM booking.seats s WHERE s.hold_id = h.id AND s.status = 'HELD')
                  LIMIT $1 FOR UPDATE SKIP LOCKED)`,
    [batch],
  );
  return expired.rowCount ?? 0;
}
