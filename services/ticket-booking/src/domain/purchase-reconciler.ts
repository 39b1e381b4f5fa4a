import { backoffDelay } from '@sdlab/service-kit/retry';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { dueForReconciliation, recordReconcileFailure, type UnsettledRow } from './purchase-records.ts';
import { type PurchaseService, paymentKey } from './purchases.ts';

export type ReconcileOutcome =
  | 'confirmed'
  | 'failed'
  | 'not_found'
  | 'refunded'
  | 'refund_failed'
  | 'error'
  | 'parked';

export interface ReconcilerOptions {
  pool: pg.Pool;
  purchases: PurchaseService;
  log: FastifyBaseLogger;
  /** Purchases younger than this are left to the synchronous path and the webhook. */
  staleAfterMs: number;
  batch: number;
  /** After this many failed attempts a purchase is parked (left for a person). */
  maxAttempts: number;
  retryBaseMs: number;
  maxDelayMs: number;
}

/**
 * Purchases the synchronous path could not settle (lost answers, a crash mid-saga) and refunds
 * that failed: asks the provider what happened under the hold's key and settles accordingly.
 * Like the outbox relay, a row that fails is tried again after a capped, jittered backoff and
 * parked after `maxAttempts`; rows are taken by when they are due, so a few that always fail
 * move behind the others instead of filling every batch.
 */
export async function reconcilePurchases(
  options: ReconcilerOptions,
): Promise<Partial<Record<ReconcileOutcome, number>>> {
  const counts: Partial<Record<ReconcileOutcome, number>> = {};
  const bump = (k: ReconcileOutcome) => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const rows = await dueForReconciliation(options.pool, options.staleAfterMs, options.batch);
  for (const row of rows) {
    try {
      const outcome = await reconcileOne(options.purchases, row);
      bump(outcome);
      if (outcome === 'refund_failed' && (await recordFailure(options, row, 'refund failed'))) bump('parked');
    } catch (error) {
      bump('error');
      options.log.warn({ err: (error as Error).message, holdId: row.hold_id }, 'reconciliation failed');
      if (await recordFailure(options, row, (error as Error).message)) bump('parked');
    }
  }
  return counts;
}

async function reconcileOne(purchases: PurchaseService, row: UnsettledRow): Promise<ReconcileOutcome> {
  if (row.refund_status === 'PENDING' && row.payment_id) {
    return (await purchases.refund(row.hold_id, row.payment_id)) ? 'refunded' : 'refund_failed';
  }
  const payment = await purchases.provider.findByIdempotencyKey(paymentKey(row.hold_id));
  if (!payment) {
    // The charge never reached the provider. If it arrives late after all, its webhook finds
    // the purchase FAILED and the charge is refunded.
    await purchases.failUncharged(row.hold_id, 'PAYMENT_NOT_FOUND');
    return 'not_found';
  }
  const settled = await purchases.applyPayment(row.hold_id, payment);
  return settled.kind === 'settled' && settled.purchase.status === 'CONFIRMED' ? 'confirmed' : 'failed';
}

/** Pushes the row back by the backoff, or parks it: true when it parked it. */
async function recordFailure(options: ReconcilerOptions, row: UnsettledRow, error: string): Promise<boolean> {
  const attempt = row.reconcile_attempts + 1;
  const park = attempt >= options.maxAttempts;
  await recordReconcileFailure(options.pool, row.hold_id, {
    error,
    delayMs: backoffDelay(attempt, { baseDelayMs: options.retryBaseMs, maxDelayMs: options.maxDelayMs }),
    park,
  }).catch((e: unknown) =>
    options.log.warn({ err: (e as Error).message }, 'could not record a reconcile failure'),
  );
  if (park)
    options.log.error({ holdId: row.hold_id, attempts: attempt, error }, 'purchase parked by the reconciler');
  return park;
}
