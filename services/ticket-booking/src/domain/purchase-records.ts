import type pg from 'pg';
import type { HoldRow } from './seat-states.ts';

// The booking.purchases rows: reads, and every change of a purchase's status. The seats and the
// hold a purchase moves are changed in seat-states.ts, in the same transaction.

export type PurchaseStatus = 'PENDING' | 'CONFIRMED' | 'FAILED';
export type RefundStatus = 'NONE' | 'PENDING' | 'REFUNDED';

export interface Purchase {
  id: string;
  holdId: string;
  eventId: string;
  userId: string;
  status: PurchaseStatus;
  amountCents: number;
  seatIds: number[];
  paymentId: string | null;
  failureReason: string | null;
  refundStatus: RefundStatus;
  createdAt: string;
}

/** A purchase as the saga reads it: with the key and card it was started under. */
export interface PurchaseRecord extends Purchase {
  idempotencyKey: string;
  paymentMethod: string | null;
}

interface PurchaseRow {
  id: string;
  hold_id: string;
  event_id: string;
  user_id: string;
  idempotency_key: string;
  payment_method: string | null;
  status: PurchaseStatus;
  amount_cents: string;
  seat_ids: string[];
  payment_id: string | null;
  failure_reason: string | null;
  refund_status: RefundStatus;
  created_at: Date;
}

const PURCHASE_SELECT = `
  SELECT p.id, p.hold_id, p.event_id, p.user_id, p.idempotency_key, p.payment_method, p.status,
         p.amount_cents, h.seat_ids, p.payment_id, p.failure_reason, p.refund_status, p.created_at
  FROM booking.purchases p JOIN booking.holds h ON h.id = p.hold_id`;

function toRecord(row: PurchaseRow): PurchaseRecord {
  return {
    id: row.id,
    holdId: row.hold_id,
    eventId: row.event_id,
    userId: row.user_id,
    status: row.status,
    amountCents: Number(row.amount_cents),
    seatIds: row.seat_ids.map(Number),
    paymentId: row.payment_id,
    failureReason: row.failure_reason,
    refundStatus: row.refund_status,
    createdAt: row.created_at.toISOString(),
    idempotencyKey: row.idempotency_key,
    paymentMethod: row.payment_method,
  };
}

/** What a client sees: the key and the card stay server-side. */
export function toPurchase(record: PurchaseRecord): Purchase {
  const { idempotencyKey: _key, paymentMethod: _method, ...purchase } = record;
  return purchase;
}

export type Queryable = pg.Pool | pg.PoolClient;

export async function purchaseOfHold(
  db: Queryable,
  holdId: string,
  options: { lock?: boolean } = {},
): Promise<PurchaseRecord | undefined> {
  const { rows } = await db.query<PurchaseRow>({
    name: options.lock ? 'SELECT purchase of hold FOR UPDATE' : 'SELECT purchase of hold',
    text: `${PURCHASE_SELECT} WHERE p.hold_id = $1${options.lock ? ' FOR UPDATE OF p' : ''}`,
    values: [holdId],
  });
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/**
 * The hold's purchase and the hold itself, both locked (purchase first, then hold, as before):
 * what a settling transaction works on, in one round trip. Both rows are locked, so after a lock
 * wait Postgres re-reads the newest version of each, not the statement's snapshot.
 */
export async function lockPurchaseWithHold(
  client: pg.PoolClient,
  holdId: string,
): Promise<{ purchase: PurchaseRecord; hold: HoldRow } | undefined> {
  const { rows } = await client.query<
    PurchaseRow & {
      hold_event_id: string;
      hold_user_id: string;
      hold_amount_cents: string;
      hold_status: HoldRow['status'];
      hold_expires_at: Date;
      hold_created_at: Date;
    }
  >({
    name: 'SELECT purchase and hold FOR UPDATE',
    text: `SELECT p.id, p.hold_id, p.event_id, p.user_id, p.idempotency_key, p.payment_method, p.status,
            p.amount_cents, h.seat_ids, p.payment_id, p.failure_reason, p.refund_status, p.created_at,
            h.event_id AS hold_event_id, h.user_id AS hold_user_id, h.amount_cents AS hold_amount_cents,
            h.status AS hold_status, h.expires_at AS hold_expires_at, h.created_at AS hold_created_at
     FROM booking.purchases p JOIN booking.holds h ON h.id = p.hold_id
     WHERE p.hold_id = $1 FOR UPDATE OF p, h`,
    values: [holdId],
  });
  const row = rows[0];
  if (!row) return undefined;
  return {
    purchase: toRecord(row),
    hold: {
      id: row.hold_id,
      event_id: row.hold_event_id,
      user_id: row.hold_user_id,
      seat_ids: row.seat_ids,
      amount_cents: row.hold_amount_cents,
      status: row.hold_status,
      expires_at: row.hold_expires_at,
      created_at: row.hold_created_at,
    },
  };
}

/** The charge a hold's purchase was confirmed with; undefined while it is not CONFIRMED. */
export async function confirmedChargeOf(db: Queryable, holdId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ payment_id: string | null }>({
    name: 'SELECT confirmed charge of hold',
    text: `SELECT payment_id FROM booking.purchases WHERE hold_id = $1 AND status = 'CONFIRMED'`,
    values: [holdId],
  });
  return rows[0]?.payment_id ?? undefined;
}

export async function purchaseOfUser(
  db: Queryable,
  purchaseId: string,
  userId: string,
): Promise<PurchaseRecord | undefined> {
  const { rows } = await db.query<PurchaseRow>(`${PURCHASE_SELECT} WHERE p.id = $1 AND p.user_id = $2`, [
    purchaseId,
    userId,
  ]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/**
 * A new PENDING purchase, returned as stored. A key the user already used for another hold fails
 * on `purchases_user_id_idempotency_key_key`, a second purchase of the hold on
 * `purchases_hold_id_key`: the unique constraints decide, the caller names the error.
 */
export async function insertPending(
  client: pg.PoolClient,
  p: {
    id: string;
    holdId: string;
    eventId: string;
    userId: string;
    key: string;
    paymentMethod: string;
    amountCents: number;
    /** The hold's seats (a purchase shows them; they are the hold's row). */
    seatIds: string[];
  },
): Promise<PurchaseRecord> {
  const { rows } = await client.query<Omit<PurchaseRow, 'seat_ids'>>({
    name: 'INSERT purchase PENDING',
    text: `INSERT INTO booking.purchases
       (id, hold_id, event_id, user_id, idempotency_key, payment_method, amount_cents, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING')
     RETURNING id, hold_id, event_id, user_id, idempotency_key, payment_method, status, amount_cents,
               payment_id, failure_reason, refund_status, created_at`,
    values: [p.id, p.holdId, p.eventId, p.userId, p.key, p.paymentMethod, p.amountCents],
  });
  return toRecord({ ...rows[0]!, seat_ids: p.seatIds });
}

export async function markConfirmed(client: pg.PoolClient, purchaseId: string, paymentId: string) {
  await client.query({
    name: 'UPDATE purchase CONFIRMED',
    text: `UPDATE booking.purchases SET status = 'CONFIRMED', payment_id = $2, updated_at = now() WHERE id = $1`,
    values: [purchaseId, paymentId],
  });
}

/** FAILED, with the charge to refund when there is one that must not stand. */
export async function markFailed(
  client: pg.PoolClient,
  purchaseId: string,
  failure: { reason: string; paymentId: string | null; refund: boolean },
) {
  await client.query(
    `UPDATE booking.purchases SET status = 'FAILED', failure_reason = $2, payment_id = $3,
       refund_status = CASE WHEN $4 THEN 'PENDING' ELSE refund_status END, updated_at = now()
     WHERE id = $1`,
    [purchaseId, failure.reason, failure.paymentId, failure.refund],
  );
}

/** A settled purchase whose late charge must be refunded (once). */
export async function markRefundPending(client: pg.PoolClient, purchaseId: string, paymentId: string) {
  await client.query(
    `UPDATE booking.purchases SET refund_status = 'PENDING', payment_id = $2, updated_at = now() WHERE id = $1`,
    [purchaseId, paymentId],
  );
}

export async function markRefunded(db: Queryable, holdId: string) {
  await db.query(
    `UPDATE booking.purchases SET refund_status = 'REFUNDED', reconcile_attempts = 0, next_reconcile_at = NULL,
       reconcile_error = NULL, updated_at = now()
     WHERE hold_id = $1`,
    [holdId],
  );
}

/** What the reconciler works on: pending purchases and refunds, due now, oldest due first. */
export interface UnsettledRow {
  hold_id: string;
  status: PurchaseStatus;
  payment_id: string | null;
  refund_status: RefundStatus;
  reconcile_attempts: number;
}

export async function dueForReconciliation(
  db: Queryable,
  staleAfterMs: number,
  limit: number,
): Promise<UnsettledRow[]> {
  const { rows } = await db.query<UnsettledRow>(
    `SELECT hold_id, status, payment_id, refund_status, reconcile_attempts FROM booking.purchases
     WHERE (status = 'PENDING' OR refund_status = 'PENDING') AND parked_at IS NULL
       AND coalesce(next_reconcile_at, updated_at + make_interval(secs => $1::double precision / 1000)) <= now()
     ORDER BY coalesce(next_reconcile_at, updated_at) LIMIT $2`,
    [staleAfterMs, limit],
  );
  return rows;
}

/** A failed reconciliation: tried again after `delayMs`, or parked once `park` is true. */
export async function recordReconcileFailure(
  db: Queryable,
  holdId: string,
  failure: { error: string; delayMs: number; park: boolean },
) {
  await db.query(
    `UPDATE booking.purchases SET reconcile_attempts = reconcile_attempts + 1, reconcile_error = $2,
       next_reconcile_at = now() + make_interval(secs => $3::double precision / 1000),
       parked_at = CASE WHEN $4 THEN now() ELSE NULL END
     WHERE hold_id = $1`,
    [holdId, failure.error.slice(0, 500), failure.delayMs, failure.park],
  );
}
