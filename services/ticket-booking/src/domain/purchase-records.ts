import type pg from 'pg';

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
  const { rows } = await db.query<PurchaseRow>(
    `${PURCHASE_SELECT} WHERE p.hold_id = $1${options.lock ? ' FOR UPDATE OF p' : ''}`,
    [holdId],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
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

export async function keyInUse(db: Queryable, userId: string, key: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'SELECT 1 FROM booking.purchases WHERE user_id = $1 AND idempotency_key = $2',
    [userId, key],
  );
  return (rowCount ?? 0) > 0;
}

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
  },
): Promise<void> {
  await client.query(
    `INSERT INTO booking.purchases
       (id, hold_id, event_id, user_id, idempotency_key, payment_method, amount_cents, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING')`,
    [p.id, p.holdId, p.eventId, p.userId, p.key, p.paymentMethod, p.amountCents],
  );
}

export async function markConfirmed(client: pg.PoolClient, purchaseId: string, paymentId: string) {
  await client.query(
    `UPDATE booking.purchases SET status = 'CONFIRMED', payment_id = $2, updated_at = now() WHERE id = $1`,
    [purchaseId, paymentId],
  );
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
