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

interface AskOf {
  holdId: string;
  eventId: string;
  userId: string;
}

/** A hold of named seats: sorted and distinct, all of `eventId`. */
export interface SeatsAsk extends AskOf {
  kind: 'seats';
  seatIds: number[];
}

/** A hold of `quantity` seats the statement picks itself: the best free ones (of `section`). */
export interface BestAvailableAsk extends AskOf {
  kind: 'best-available';
  quantity: number;
  section?: string | undefined;
}

/** One hold of a batch. */
export type HoldAsk = SeatsAsk | BestAvailableAsk;

/** Where a batch's best-available holds pick from: one event, one section or all of them. */
interface PickScope {
  eventId: string;
  section?: string | undefined;
}

/** Whether `ask` picks from `scope` (a batch has one scope for all its best-available holds). */
function picksFrom(ask: BestAvailableAsk, scope: PickScope): boolean {
  return ask.eventId === scope.eventId && ask.section === scope.section;
}

/** What the batch did with one hold: created (`hold`), or not, with the seats it could not get. */
export interface HoldOutcome {
  seats: HeldSeat[];
  hold?: HoldRow;
  /** False when the event is no longer on sale (cancelled since the hold was admitted): no hold. */
  onSale: boolean;
  /** The user's open holds before this batch. */
  openHolds: number;
  /** Requested seats that were not AVAILABLE in the event (taken, or no such seat); seat holds only. */
  missing: number[];
}

/**
 * The batch statement. Seat holds lock their seats (`free`, waiting for a lock another batch
 * has); best-available holds pick theirs (`picked`): the scope's first free seats in id order —
 * the layout's sections, rows and seats front to back — that no other transaction has locked
 * (SKIP LOCKED), so concurrent batches take different seats instead of queueing for the same
 * ones. `picked` excludes the seats this batch's seat holds locked; naming `free` also makes
 * every seat hold's lock wait finish before the first seat is picked (a filter runs before its
 * row is locked), so a batch never waits while it holds picked seats and two batches cannot
 * deadlock through them. The picked seats go to the best-available holds in arrival order, each
 * all or nothing (`alloc`: one that does not fit in what is left is skipped, the next may fit).
 */
function holdStatement(bySection: boolean): { name: string; text: string } {
  // The pick's scope is a range of one index, (event_id, status, id) or, for a section, the
  // AVAILABLE seats' (event_id, section, id), written as row comparisons and ordered by the whole
  // key. With `event_id = $9 AND status = 'AVAILABLE' ORDER BY id` the generic plan walked the
  // primary key in id order and filtered: when one event is most of the table (a fresh shard, the
  // bench) the planner cannot tell that the front seats are gone, and the walk passed every taken
  // one (40,000 rows for one pick, EXPLAIN ANALYZE). Equalities would make the leading columns
  // constants that any order by id satisfies; row comparisons leave this index the only one that
  // gives the rows in the order asked.
  const scope = bySection ? '(s.event_id, s.section)' : '(s.event_id, s.status)';
  const key = bySection ? '($9, $10)' : `($9, 'AVAILABLE')`;
  return {
    // The statement's name is its span's name too (pg.query:UPDATE …): what a trace of a hold shows.
    name: `UPDATE seats AVAILABLE to HELD, INSERT holds${bySection ? ' (a section)' : ''}`,
    text: `WITH RECURSIVE req AS (
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $8::int[])
         WITH ORDINALITY AS r(hold_id, event_id, user_id, quantity, pos)),
     want AS (
       SELECT w.pos, w.seat_id, r.hold_id, r.event_id
       FROM unnest($4::int[], $5::bigint[]) AS w(pos, seat_id) JOIN req r ON r.pos = w.pos),
     on_sale AS (
       SELECT r.pos FROM req r JOIN booking.events e ON e.id = r.event_id WHERE e.status = 'SCHEDULED'),
     open AS (
       SELECT r.pos, (SELECT count(*)::int FROM booking.holds h
                      WHERE h.user_id = r.user_id AND h.status IN ('ACTIVE', 'CONFIRMING')
                        AND h.expires_at > now()) AS n
       FROM req r),
     free AS (
       SELECT s.id FROM booking.seats s JOIN want w ON s.id = w.seat_id AND s.event_id = w.event_id
       WHERE s.status = 'AVAILABLE'
       ORDER BY s.id FOR UPDATE OF s),
     winners AS (
       SELECT r.pos FROM req r JOIN open o ON o.pos = r.pos
       WHERE r.quantity = 0 AND o.n < $7 AND r.pos IN (SELECT pos FROM on_sale) AND NOT EXISTS (
         SELECT 1 FROM want w WHERE w.pos = r.pos AND w.seat_id NOT IN (SELECT id FROM free))),
     ba AS (
       SELECT r.pos, r.quantity, row_number() OVER (ORDER BY r.pos) AS k
       FROM req r JOIN open o ON o.pos = r.pos
       WHERE r.quantity > 0 AND o.n < $7 AND r.pos IN (SELECT pos FROM on_sale)),
     picked AS MATERIALIZED (
       SELECT s.id FROM booking.seats s
       WHERE ${scope} >= ${key} AND ${scope} <= ${key}${bySection ? ` AND s.status = 'AVAILABLE'` : ''}
         AND s.id NOT IN (SELECT id FROM free)
       ORDER BY ${scope.slice(1, -1)}, s.id LIMIT (SELECT coalesce(sum(quantity), 0) FROM ba)
       FOR UPDATE OF s SKIP LOCKED),
     ranked AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM picked),
     supply AS (SELECT count(*) AS n FROM picked),
     alloc (k, pos, quantity, first, won, used) AS (
       SELECT 0::bigint, 0::bigint, 0, 0::bigint, false, 0::bigint
       UNION ALL
       SELECT b.k, b.pos, b.quantity, a.used, b.quantity <= p.n - a.used,
              a.used + CASE WHEN b.quantity <= p.n - a.used THEN b.quantity ELSE 0 END
       FROM alloc a JOIN ba b ON b.k = a.k + 1 CROSS JOIN supply p),
     assign AS (
       SELECT w.pos, w.seat_id FROM want w JOIN winners x ON x.pos = w.pos
       UNION ALL
       SELECT a.pos, r.id FROM alloc a JOIN ranked r ON r.rn > a.first AND r.rn <= a.first + a.quantity
       WHERE a.won),
     taken AS (
       UPDATE booking.seats s
       SET status = 'HELD', hold_id = r.hold_id, held_until = ${ttl('$6')}
       FROM assign a JOIN req r ON r.pos = a.pos
       WHERE s.id = a.seat_id AND s.status = 'AVAILABLE'
       RETURNING a.pos, s.id, s.section, s.row_number, s.seat_number, s.price_cents),
     hold AS (
       INSERT INTO booking.holds (id, event_id, user_id, seat_ids, amount_cents, status, expires_at)
       SELECT r.hold_id, r.event_id, r.user_id, array_agg(t.id ORDER BY t.id), sum(t.price_cents), 'ACTIVE', ${ttl('$6')}
       FROM req r JOIN taken t ON t.pos = r.pos
       GROUP BY r.pos, r.hold_id, r.event_id, r.user_id, r.quantity
       HAVING count(*) = CASE WHEN r.quantity > 0 THEN r.quantity
                              ELSE (SELECT count(*) FROM want w WHERE w.pos = r.pos) END
       RETURNING id, amount_cents, expires_at, created_at)
     SELECT r.pos, o.n AS open_holds, r.pos IN (SELECT pos FROM on_sale) AS on_sale, h.amount_cents, h.expires_at, h.created_at,
            (SELECT json_agg(json_build_array(t.id, t.section, t.row_number, t.seat_number, t.price_cents))
             FROM taken t WHERE t.pos = r.pos) AS seats,
            (SELECT array_agg(w.seat_id) FROM want w
             WHERE w.pos = r.pos AND w.seat_id NOT IN (SELECT id FROM free)) AS missing
     FROM req r JOIN open o ON o.pos = r.pos LEFT JOIN hold h ON h.id = r.hold_id
     ORDER BY r.pos`,
  };
}

const HOLD_STATEMENTS = { anySection: holdStatement(false), bySection: holdStatement(true) };

/**
 * AVAILABLE → HELD for several holds at once, each all or nothing, and their ACTIVE hold rows:
 * one statement for a whole batch (group commit, hold-batches.ts), so a burst of holds costs
 * Postgres one round trip and one commit instead of one each.
 *
 * A seat hold wins when every seat it names is still AVAILABLE in its event (each is locked
 * first, in id order, so overlapping batches queue instead of deadlocking); a best-available
 * hold wins when enough free seats are left in the batch's pick scope (`holdStatement`). Either
 * also needs its user under `maxOpenHolds` open holds and its event still SCHEDULED (read after
 * `lockBatch` took the event's shared lock, so never a hold an event cancel missed); only
 * winners' seats change and only winners get a hold row. The holds of one batch must not share a seat or a user, and its
 * best-available holds must share one scope (the batcher keeps them apart); the caller must hold
 * the batch's advisory locks (`lockBatch`) before this statement, whose snapshot then sees every
 * hold committed before it and every event cancel that could have missed this batch's holds.
 */
export async function holdSeatsBatch(
  client: pg.PoolClient,
  asks: HoldAsk[],
  options: { ttlMs: number; maxOpenHolds: number },
): Promise<HoldOutcome[]> {
  const seatPos: number[] = [];
  const seatIds: number[] = [];
  let scope: PickScope | undefined;
  asks.forEach((ask, i) => {
    if (ask.kind === 'seats') {
      for (const id of ask.seatIds) {
        seatPos.push(i + 1);
        seatIds.push(id);
      }
    } else if (!scope) {
      scope = { eventId: ask.eventId, section: ask.section };
    } else if (!picksFrom(ask, scope)) {
      throw new Error('hold batch: best-available holds of two pick scopes');
    }
  });
  const statement = scope?.section === undefined ? HOLD_STATEMENTS.anySection : HOLD_STATEMENTS.bySection;
  const { rows } = await client.query<{
    pos: string;
    open_holds: number;
    on_sale: boolean;
    amount_cents: string | null;
    expires_at: Date | null;
    created_at: Date | null;
    seats: [string | number, string, number, number, number][] | null;
    missing: string[] | null;
  }>({
    ...statement,
    values: [
      asks.map((a) => a.holdId),
      asks.map((a) => a.eventId),
      asks.map((a) => a.userId),
      seatPos,
      seatIds,
      options.ttlMs,
      options.maxOpenHolds,
      asks.map((a) => (a.kind === 'seats' ? 0 : a.quantity)),
      // No best-available hold: no event, so the pick reads nothing.
      scope?.eventId ?? null,
      ...(scope?.section === undefined ? [] : [scope.section]),
    ],
  });
  return asks.map((ask, i) => {
    const row = rows[i];
    if (!row || Number(row.pos) !== i + 1) throw new Error(`hold batch: no answer for hold ${i + 1}`);
    const seats = (row.seats ?? [])
      .map(([id, section, rowNumber, seatNumber, priceCents]) => ({
        id: Number(id),
        section,
        row: rowNumber,
        number: seatNumber,
        priceCents,
      }))
      .sort((a, b) => a.id - b.id);
    const outcome: HoldOutcome = {
      seats,
      onSale: row.on_sale,
      openHolds: row.open_holds,
      missing: (row.missing ?? []).map(Number).sort((a, b) => a - b),
    };
    if (row.amount_cents === null || row.expires_at === null || row.created_at === null) return outcome;
    return {
      ...outcome,
      hold: {
        id: ask.holdId,
        event_id: ask.eventId,
        user_id: ask.userId,
        seat_ids: seats.map((s) => String(s.id)),
        amount_cents: row.amount_cents,
        status: 'ACTIVE',
        expires_at: row.expires_at,
        created_at: row.created_at,
      },
    };
  });
}

/** An event's advisory lock key (its id as Postgres spells it): hold batches share it, its cancel not. */
const eventLockKey = (param: string) => `hashtextextended('booking-event:' || (${param})::uuid::text, 0)`;

/**
 * Takes the transaction-scoped advisory lock of every user of a batch, in one order (two batches
 * never wait on each other's users crosswise), so a user's concurrent holds cannot all read the
 * same count of open holds and pass the cap together: `holdSeatsBatch` counts in the next
 * statement, whose snapshot is taken after these locks are granted. Then, users first, a shared
 * lock of each event of the batch: an event cancel takes it exclusively (`releaseEventHolds`), so
 * it waits for the batches under way and sees their holds, and a batch that comes after it reads
 * the event cancelled and holds nothing. Shared locks do not wait for each other: holds on one
 * event never queue for this one.
 * The locks are taken in the subquery's order (user locks, then event locks, each by key): with
 * no join or grouping between them, the aggregate reads the sorted subquery row by row, the idiom
 * Postgres's advisory-lock docs give for locking a subquery's rows in order.
 *
 * The same round trip makes the transaction use the generic plan of the batch statement: Postgres
 * otherwise re-plans it on every execution, and planning it costs more than running it. Its
 * generic plan reaches each requested seat through the primary key.
 */
export async function lockBatch(client: pg.PoolClient, asks: readonly AskOf[]): Promise<void> {
  await client.query({
    name: 'SELECT hold user and event locks',
    text: `SELECT count(CASE WHEN l.shared THEN pg_advisory_xact_lock_shared(l.k) ELSE pg_advisory_xact_lock(l.k) END),
                  set_config('plan_cache_mode', 'force_generic_plan', true)
           FROM (SELECT DISTINCT hashtextextended('booking-user:' || u, 0) AS k, false AS shared
                 FROM unnest($1::text[]) AS u
                 UNION
                 SELECT DISTINCT ${eventLockKey('e')}, true FROM unnest($2::text[]) AS e
                 ORDER BY 2, 1) AS l`,
    values: [asks.map((a) => a.userId), asks.map((a) => a.eventId)],
  });
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
  // One statement (was two): the seats are touched only when the hold row changed.
  const { rows } = await client.query<{ holds: number; seats: number }>({
    name: 'UPDATE hold to CONFIRMING, its seats kept',
    text: `WITH kept AS (
       UPDATE booking.holds SET status = 'CONFIRMING', updated_at = now(),
         expires_at = greatest(expires_at, ${ttl('$2')})
       WHERE id = $1 AND status = 'ACTIVE'
       RETURNING id),
     seats AS (
       UPDATE booking.seats SET held_until = greatest(held_until, ${ttl('$2')})
       WHERE hold_id = $1 AND status = 'HELD' AND EXISTS (SELECT 1 FROM kept)
       RETURNING id)
     SELECT (SELECT count(*) FROM kept)::int AS holds, (SELECT count(*) FROM seats)::int AS seats`,
    values: [hold.id, graceMs],
  });
  return rows[0]!.holds === 1 && rows[0]!.seats === hold.seatCount;
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
  // One statement (was three): the hold's HELD seats are locked in id order, and only when all
  // of them are there do they become SOLD and the hold CONFIRMED.
  const { rows } = await client.query<{ held: number }>({
    name: 'UPDATE seats HELD to SOLD, hold CONFIRMED',
    text: `WITH held AS (
       SELECT id FROM booking.seats WHERE hold_id = $1 AND status = 'HELD' ORDER BY id FOR UPDATE),
     complete AS (SELECT count(*) = $3 AS ok FROM held),
     sold AS (
       UPDATE booking.seats s SET status = 'SOLD', purchase_id = $2, held_until = NULL
       FROM held WHERE s.id = held.id AND s.hold_id = $1 AND s.status = 'HELD' AND (SELECT ok FROM complete)
       RETURNING s.id),
     confirmed AS (
       UPDATE booking.holds SET status = 'CONFIRMED', updated_at = now()
       WHERE id = $1 AND (SELECT ok FROM complete)
       RETURNING id)
     SELECT (SELECT count(*) FROM sold)::int AS held`,
    values: [hold.id, purchaseId, hold.seatCount],
  });
  return rows[0]!.held === hold.seatCount;
}

/**
 * HELD → AVAILABLE for the seats these holds still hold, and the holds (if still open) to
 * `status`. The one way seats of known holds go back on sale: cancel, decline, lost payment,
 * expiry found while paying, the event cancelled. Two statements whatever the number of holds.
 */
export async function release(
  client: pg.PoolClient,
  holdIds: readonly string[],
  status: ReleasedStatus,
): Promise<void> {
  await client.query(
    `UPDATE booking.seats SET status = 'AVAILABLE', hold_id = NULL, held_until = NULL
     WHERE hold_id = ANY($1::uuid[]) AND status = 'HELD'`,
    [holdIds],
  );
  await client.query(
    `UPDATE booking.holds SET status = $2, updated_at = now()
     WHERE id = ANY($1::uuid[]) AND status IN ('ACTIVE', 'CONFIRMING')`,
    [holdIds, status],
  );
}

/**
 * An event cancelled: its ACTIVE holds RELEASED and their seats back to AVAILABLE, in the caller's
 * transaction, which must call this before it changes the event row. The holds are locked first,
 * in id order, as a purchase locks its hold before the event (`PurchaseService.#begin`): a purchase
 * that got there first has made its hold CONFIRMING and is left to settle (confirmed or refunded);
 * one that comes later finds the event cancelled and charges nothing. Returns how many holds.
 */
export async function releaseEventHolds(client: pg.PoolClient, eventId: string): Promise<number> {
  // Batches under way finish first, later ones wait for this transaction (`lockBatch`).
  await client.query(`SELECT pg_advisory_xact_lock(${eventLockKey('$1')})`, [eventId]);
  const { rows } = await client.query<{ id: string }>(
    `SELECT id FROM booking.holds WHERE event_id = $1 AND status = 'ACTIVE' ORDER BY id FOR UPDATE`,
    [eventId],
  );
  if (rows.length === 0) return 0;
  await release(
    client,
    rows.map((r) => r.id),
    'RELEASED',
  );
  return rows.length;
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
