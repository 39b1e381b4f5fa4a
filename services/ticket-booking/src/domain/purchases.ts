import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import { inTransaction } from '@sdlab/service-kit/postgres';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { type Payment, type PaymentProvider, PaymentUnknownError } from '../adapters/payment-provider.ts';
import { BookingErrors, unavailable } from '../errors.ts';
import { Attr, type ServiceMetrics } from '../telemetry.ts';
import { HOLD_COLUMNS, type Hold, toHold } from './holds.ts';
import { isConnectionError } from './pg-errors.ts';
import type { SeatLocks } from './seat-locks.ts';

export type PurchaseStatus = 'PENDING' | 'CONFIRMED' | 'FAILED';

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
  refundStatus: 'NONE' | 'PENDING' | 'REFUNDED';
  createdAt: string;
}

interface PurchaseRow {
  id: string;
  hold_id: string;
  event_id: string;
  user_id: string;
  idempotency_key: string;
  status: PurchaseStatus;
  amount_cents: string;
  seat_ids: string[];
  payment_id: string | null;
  failure_reason: string | null;
  refund_status: Purchase['refundStatus'];
  created_at: Date;
}

const PURCHASE_SELECT = `
  SELECT p.id, p.hold_id, p.event_id, p.user_id, p.idempotency_key, p.status, p.amount_cents, h.seat_ids,
         p.payment_id, p.failure_reason, p.refund_status, p.created_at
  FROM booking.purchases p JOIN booking.holds h ON h.id = p.hold_id`;

function toPurchase(row: PurchaseRow): Purchase {
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
  };
}

/** The provider's idempotency key for a hold: one hold can be charged at most once, ever. */
export function paymentKey(holdId: string): string {
  return `booking-hold-${holdId}`;
}

export interface ConfirmResult {
  purchase: Purchase;
  /** True when this call found the purchase already settled (a retried confirm). */
  replayed: boolean;
}

/**
 * The purchase saga, orchestrated here [004:1316-1328]:
 *   1. reserve  — the hold (already done) moves ACTIVE → CONFIRMING, kept for the payment;
 *                 compensation: release the seats.
 *   2. charge   — through the payment provider with an idempotency key derived from the hold,
 *                 so any number of retries (ours, the client's, the reconciler's) is one charge;
 *                 compensation: refund.
 *   3. confirm  — HELD → SOLD for every seat of the hold, or none.
 * The provider's answer (sync), its webhook (async) and the reconciler all end in `settle`,
 * which applies an outcome once: the purchase row is locked and only a PENDING one changes.
 */
export class PurchaseService {
  readonly #pool: pg.Pool;
  readonly #provider: PaymentProvider;
  readonly #locks: SeatLocks;
  readonly #metrics: ServiceMetrics | undefined;
  readonly #log: FastifyBaseLogger;
  readonly #graceMs: number;
  readonly #retries: number;

  constructor(deps: {
    pool: pg.Pool;
    provider: PaymentProvider;
    locks: SeatLocks;
    metrics?: ServiceMetrics;
    log: FastifyBaseLogger;
    graceMs: number;
    retries: number;
  }) {
    this.#pool = deps.pool;
    this.#provider = deps.provider;
    this.#locks = deps.locks;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#graceMs = deps.graceMs;
    this.#retries = deps.retries;
  }

  async confirm(
    holdId: string,
    userId: string,
    idempotencyKey: string,
    paymentMethod: string,
  ): Promise<ConfirmResult> {
    // Nothing is charged before step 1 commits, so an unreachable database here is a clean 503.
    const started = await this.#begin(holdId, userId, idempotencyKey).catch((error: unknown) => {
      throw isConnectionError(error) ? unavailable('store', error) : error;
    });
    trace.getActiveSpan()?.setAttributes({ [Attr.holdId]: holdId, [Attr.purchaseId]: started.purchase.id });
    if (started.purchase.status !== 'PENDING') {
      this.#metrics?.purchases.inc({ outcome: 'replayed' });
      return { purchase: started.purchase, replayed: true };
    }
    const payment = await this.#charge(started.purchase, paymentMethod);
    if (!payment) {
      this.#metrics?.purchases.inc({ outcome: 'pending' });
      return { purchase: started.purchase, replayed: !started.created };
    }
    const { purchase } = await this.settle(holdId, payment);
    return { purchase: purchase ?? started.purchase, replayed: !started.created };
  }

  /** Step 1: find the purchase of this confirm, or start one (the hold kept for the payment). */
  async #begin(
    holdId: string,
    userId: string,
    key: string,
  ): Promise<{ purchase: Purchase; created: boolean }> {
    return inTransaction(this.#pool, async (client) => {
      const holds = await client.query<Parameters<typeof toHold>[0]>(
        `SELECT ${HOLD_COLUMNS}, expires_at > now() AS live FROM booking.holds WHERE id = $1 AND user_id = $2 FOR UPDATE`,
        [holdId, userId],
      );
      const row = holds.rows[0] as (Parameters<typeof toHold>[0] & { live: boolean }) | undefined;
      if (!row) throw new BookingErrors.HoldNotFound(holdId);
      const existing = await this.#byHold(client, holdId);
      if (existing) {
        const { rows } = await client.query<{ idempotency_key: string }>(
          'SELECT idempotency_key FROM booking.purchases WHERE id = $1',
          [existing.id],
        );
        if (rows[0]!.idempotency_key !== key) throw new BookingErrors.HoldAlreadyPurchased(holdId);
        return { purchase: existing, created: false };
      }
      const hold: Hold = toHold(row);
      if (hold.status === 'EXPIRED' || (hold.status === 'ACTIVE' && !row.live)) {
        throw new BookingErrors.HoldExpired(holdId);
      }
      if (hold.status !== 'ACTIVE') throw new BookingErrors.HoldNotActive(holdId, hold.status.toLowerCase());
      const reused = await client.query(
        'SELECT 1 FROM booking.purchases WHERE user_id = $1 AND idempotency_key = $2',
        [userId, key],
      );
      if (reused.rowCount) throw new BookingErrors.IdempotencyKeyReused();
      const id = randomUUID();
      await client.query(
        `INSERT INTO booking.purchases (id, hold_id, event_id, user_id, idempotency_key, amount_cents, status)
         VALUES ($1, $2, $3, $4, $5, $6, 'PENDING')`,
        [id, holdId, hold.eventId, userId, key, hold.amountCents],
      );
      // The hold must outlive the payment: extend it (never shorten it) by the grace period.
      const grace = [holdId, this.#graceMs];
      await client.query(
        `UPDATE booking.holds SET status = 'CONFIRMING', updated_at = now(),
           expires_at = greatest(expires_at, now() + make_interval(secs => $2::double precision / 1000))
         WHERE id = $1`,
        grace,
      );
      await client.query(
        `UPDATE booking.seats SET held_until = greatest(held_until, now() + make_interval(secs => $2::double precision / 1000))
         WHERE hold_id = $1 AND status = 'HELD'`,
        grace,
      );
      return { purchase: (await this.#byHold(client, holdId))!, created: true };
    });
  }

  /** Step 2: charge, retrying an unknown outcome with the same key. Undefined = still unknown. */
  async #charge(purchase: Purchase, paymentMethod: string): Promise<Payment | undefined> {
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      const started = performance.now();
      try {
        const payment = await this.#provider.charge({
          idempotencyKey: paymentKey(purchase.holdId),
          amountCents: purchase.amountCents,
          reference: purchase.holdId,
          paymentMethod,
        });
        this.#metrics?.paymentDuration.observe(
          { outcome: payment.status },
          (performance.now() - started) / 1000,
        );
        trace.getActiveSpan()?.setAttribute(Attr.paymentOutcome, payment.status);
        return payment;
      } catch (error) {
        const unknown = error instanceof PaymentUnknownError;
        this.#metrics?.paymentDuration.observe(
          { outcome: unknown ? 'timeout' : 'error' },
          (performance.now() - started) / 1000,
        );
        if (!unknown) {
          // The provider refused the request itself (4xx): nothing was charged. Give the seats back.
          this.#log.error({ err: error, holdId: purchase.holdId }, 'payment request refused');
          await this.settle(purchase.holdId, undefined, 'PAYMENT_REJECTED');
          throw new BookingErrors.PurchaseFailed('the payment provider refused the request');
        }
        this.#log.warn(
          { err: (error as Error).message, holdId: purchase.holdId, attempt },
          'payment outcome unknown',
        );
        if (attempt < this.#retries) await sleep(100 * 2 ** attempt * (0.5 + Math.random() / 2));
      }
    }
    trace.getActiveSpan()?.setAttribute(Attr.paymentOutcome, 'unknown');
    return undefined;
  }

  /**
   * Step 3 or its compensation, applied once. `payment` undefined with a reason = fail without a
   * charge. Returns the purchase after the change (undefined when the hold has no purchase).
   */
  async settle(
    holdId: string,
    payment: Payment | undefined,
    reason?: string,
    webhookEventId?: string,
  ): Promise<{ kind: 'duplicate' | 'unknown' | 'settled' | 'confirmed' | 'failed'; purchase?: Purchase }> {
    const outcome = await inTransaction(this.#pool, async (client) => {
      if (webhookEventId && payment) {
        const fresh = await client.query(
          `INSERT INTO booking.payment_webhooks (event_id, type, payment_id) VALUES ($1, $2, $3)
           ON CONFLICT (event_id) DO NOTHING`,
          [webhookEventId, `payment.${payment.status}`, payment.id],
        );
        if (fresh.rowCount === 0) return { kind: 'duplicate' as const };
      }
      const { rows } = await client.query<{ id: string; status: PurchaseStatus; refund_status: string }>(
        'SELECT id, status, refund_status FROM booking.purchases WHERE hold_id = $1 FOR UPDATE',
        [holdId],
      );
      const current = rows[0];
      if (!current) return { kind: 'unknown' as const };
      if (current.status !== 'PENDING') {
        // Already settled. A charge that succeeded for a purchase that failed is refunded (once).
        const refund =
          current.status === 'FAILED' && payment?.status === 'succeeded' && current.refund_status === 'NONE';
        if (refund) {
          await client.query(
            `UPDATE booking.purchases SET refund_status = 'PENDING', payment_id = $2, updated_at = now() WHERE id = $1`,
            [current.id, payment.id],
          );
        }
        return { kind: 'settled' as const, refund: refund ? payment : undefined };
      }
      const hold = (
        await client.query<Parameters<typeof toHold>[0]>(
          `SELECT ${HOLD_COLUMNS} FROM booking.holds WHERE id = $1 FOR UPDATE`,
          [holdId],
        )
      ).rows[0]!;
      const seatIds = hold.seat_ids.map(Number);
      if (payment?.status === 'succeeded') {
        const { rows: held } = await client.query<{ id: string }>(
          `SELECT id FROM booking.seats WHERE hold_id = $1 AND status = 'HELD' ORDER BY id FOR UPDATE`,
          [holdId],
        );
        if (held.length === seatIds.length) {
          await client.query(
            `UPDATE booking.seats SET status = 'SOLD', purchase_id = $2, held_until = NULL WHERE hold_id = $1 AND status = 'HELD'`,
            [holdId, current.id],
          );
          await client.query(
            `UPDATE booking.holds SET status = 'CONFIRMED', updated_at = now() WHERE id = $1`,
            [holdId],
          );
          await client.query(
            `UPDATE booking.purchases SET status = 'CONFIRMED', payment_id = $2, updated_at = now() WHERE id = $1`,
            [current.id, payment.id],
          );
          return { kind: 'confirmed' as const };
        }
        // The hold ran out while the payment was in flight and its seats went back on sale:
        // release what is left of it and refund the charge.
        await this.#release(client, holdId, 'EXPIRED');
        await client.query(
          `UPDATE booking.purchases SET status = 'FAILED', failure_reason = 'HOLD_EXPIRED', payment_id = $2,
             refund_status = 'PENDING', updated_at = now() WHERE id = $1`,
          [current.id, payment.id],
        );
        return {
          kind: 'failed' as const,
          reason: 'HOLD_EXPIRED',
          refund: payment,
          seatIds,
          eventId: hold.event_id,
        };
      }
      const failure = payment ? `PAYMENT_${payment.status.toUpperCase()}` : (reason ?? 'PAYMENT_FAILED');
      await this.#release(client, holdId, 'RELEASED');
      await client.query(
        `UPDATE booking.purchases SET status = 'FAILED', failure_reason = $2, payment_id = $3, updated_at = now() WHERE id = $1`,
        [current.id, failure, payment?.id ?? null],
      );
      return { kind: 'failed' as const, reason: failure, seatIds, eventId: hold.event_id };
    });

    if (outcome.kind === 'duplicate' || outcome.kind === 'unknown') return { kind: outcome.kind };
    if (outcome.kind === 'confirmed') this.#metrics?.purchases.inc({ outcome: 'confirmed' });
    if (outcome.kind === 'failed') {
      this.#metrics?.purchases.inc({ outcome: outcome.reason === 'HOLD_EXPIRED' ? 'expired' : 'declined' });
      this.#metrics?.holdsReleased.inc({
        reason:
          outcome.reason === 'HOLD_EXPIRED'
            ? 'expired_while_paying'
            : outcome.reason === 'PAYMENT_DECLINED'
              ? 'declined'
              : 'payment_lost',
      });
      this.#metrics?.compensations.inc({ action: 'release', outcome: 'done' });
      await this.#locks.release(outcome.eventId, outcome.seatIds, holdId).catch(() => undefined);
    }
    if ((outcome.kind === 'failed' || outcome.kind === 'settled') && outcome.refund) {
      await this.refund(holdId, outcome.refund.id);
    }
    return { kind: outcome.kind, purchase: await this.getByHold(holdId) };
  }

  /** Compensation for a charge that cannot become a sale; retried by the reconciler if it fails. */
  async refund(holdId: string, paymentId: string): Promise<void> {
    try {
      await this.#provider.refund(paymentId);
      await this.#pool.query(
        `UPDATE booking.purchases SET refund_status = 'REFUNDED', updated_at = now() WHERE hold_id = $1`,
        [holdId],
      );
      this.#metrics?.compensations.inc({ action: 'refund', outcome: 'done' });
    } catch (error) {
      this.#metrics?.compensations.inc({ action: 'refund', outcome: 'failed' });
      this.#log.warn(
        { err: (error as Error).message, holdId, paymentId },
        'refund failed; the reconciler retries it',
      );
    }
  }

  async #release(client: pg.PoolClient, holdId: string, holdStatus: 'RELEASED' | 'EXPIRED'): Promise<void> {
    await client.query(
      `UPDATE booking.seats SET status = 'AVAILABLE', hold_id = NULL, held_until = NULL WHERE hold_id = $1 AND status = 'HELD'`,
      [holdId],
    );
    await client.query(
      `UPDATE booking.holds SET status = $2, updated_at = now() WHERE id = $1 AND status IN ('ACTIVE', 'CONFIRMING')`,
      [holdId, holdStatus],
    );
  }

  async #byHold(db: pg.PoolClient | pg.Pool, holdId: string): Promise<Purchase | undefined> {
    const { rows } = await db.query<PurchaseRow>(`${PURCHASE_SELECT} WHERE p.hold_id = $1`, [holdId]);
    return rows[0] ? toPurchase(rows[0]) : undefined;
  }

  getByHold(holdId: string): Promise<Purchase | undefined> {
    return this.#byHold(this.#pool, holdId);
  }

  async get(purchaseId: string, userId: string): Promise<Purchase> {
    const { rows } = await this.#pool.query<PurchaseRow>(
      `${PURCHASE_SELECT} WHERE p.id = $1 AND p.user_id = $2`,
      [purchaseId, userId],
    );
    if (!rows[0]) throw new BookingErrors.PurchaseNotFound(purchaseId);
    return toPurchase(rows[0]);
  }

  /**
   * Purchases the synchronous path could not settle (lost answers, a crash mid-saga) and refunds
   * that failed: asks the provider what happened under the hold's key and settles accordingly.
   */
  async reconcile(staleAfterMs: number, limit = 100): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    const bump = (k: string) => {
      counts[k] = (counts[k] ?? 0) + 1;
    };
    const { rows } = await this.#pool.query<{
      hold_id: string;
      status: PurchaseStatus;
      payment_id: string | null;
      refund_status: string;
    }>(
      `SELECT hold_id, status, payment_id, refund_status FROM booking.purchases
       WHERE (status = 'PENDING' OR refund_status = 'PENDING')
         AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
       ORDER BY updated_at LIMIT $2`,
      [staleAfterMs, limit],
    );
    for (const row of rows) {
      try {
        if (row.refund_status === 'PENDING' && row.payment_id) {
          await this.refund(row.hold_id, row.payment_id);
          bump('refunded');
          continue;
        }
        const payment = await this.#provider.findByIdempotencyKey(paymentKey(row.hold_id));
        if (!payment) {
          // The charge never reached the provider. If it arrives late after all, its webhook finds
          // the purchase FAILED and the charge is refunded.
          await this.settle(row.hold_id, undefined, 'PAYMENT_NOT_FOUND');
          bump('not_found');
        } else {
          const { purchase } = await this.settle(row.hold_id, payment);
          bump(purchase?.status === 'CONFIRMED' ? 'confirmed' : 'failed');
        }
      } catch (error) {
        bump('error');
        this.#log.warn({ err: (error as Error).message, holdId: row.hold_id }, 'reconciliation failed');
      }
    }
    return counts;
  }
}
