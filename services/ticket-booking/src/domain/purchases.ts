import { randomUUID } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import { inTransaction, isPostgresUnavailable } from '@sdlab/service-kit/postgres';
import { retry } from '@sdlab/service-kit/retry';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import {
  type Payment,
  PaymentKeyConflictError,
  type PaymentProvider,
  PaymentUnknownError,
} from '../adapters/payment-provider.ts';
import { BookingErrors } from '../errors.ts';
import { Attr, type ServiceMetrics } from '../telemetry.ts';
import { type Hold, toHold } from './holds.ts';
import {
  confirmedChargeOf,
  insertPending,
  lockPurchaseWithHold,
  markConfirmed,
  markFailed,
  markRefunded,
  markRefundPending,
  type Purchase,
  type PurchaseRecord,
  purchaseOfHold,
  purchaseOfUser,
  toPurchase,
} from './purchase-records.ts';
import type { SeatLocks } from './seat-locks.ts';
import { HOLD_COLUMNS, type HoldRow, keepForPayment, release, sell } from './seat-states.ts';

export type { Purchase, PurchaseStatus } from './purchase-records.ts';

/** The provider's idempotency key for a hold: one hold can be charged at most once, ever. */
export function paymentKey(holdId: string): string {
  return `booking-hold-${holdId}`;
}

export interface ConfirmResult {
  purchase: Purchase;
  /** True when this call found the purchase already started or settled (a retried confirm). */
  replayed: boolean;
}

const HOLD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type WebhookOutcome = 'applied' | 'duplicate' | 'ignored' | 'mismatch';

/** What applying an outcome to a purchase did. */
export type Settlement =
  /** The purchase is settled (by this call or an earlier one); a late charge is being refunded. */
  | { kind: 'settled'; purchase: Purchase }
  /** This webhook event was applied before: nothing changed. */
  | { kind: 'duplicate' }
  /** No purchase for this hold. */
  | { kind: 'no-purchase' };

interface WebhookDelivery {
  eventId: string;
  type: string;
  paymentId: string;
}

/** A change made in the settling transaction, acted on after it commits. */
type Change =
  | { kind: 'none' }
  | { kind: 'confirmed'; paymentId: string }
  | { kind: 'failed'; reason: string; hold: Hold; refund?: Payment }
  | { kind: 'late-charge'; refund: Payment };

/**
 * The purchase saga, orchestrated here [004:1316-1328]:
 *   1. reserve  — `#begin`: the hold moves ACTIVE → CONFIRMING, kept for the payment;
 *                 compensation: release the seats.
 *   2. charge   — `#charge`, through the provider with an idempotency key derived from the hold,
 *                 so any number of retries (ours, the client's, the reconciler's) is one charge;
 *                 compensation: refund.
 *   3. confirm  — `applyPayment`: HELD → SOLD for every seat of the hold, or none.
 * The provider's answer (sync), its webhook (async) and the reconciler all end in `applyPayment`
 * or `failUncharged`, which lock the purchase row and change only a PENDING one. The seat and hold
 * transitions themselves are in seat-states.ts.
 */
export class PurchaseService {
  readonly #pool: pg.Pool;
  readonly #provider: PaymentProvider;
  readonly #locks: SeatLocks;
  readonly #metrics: ServiceMetrics | undefined;
  readonly #log: FastifyBaseLogger;
  readonly #graceMs: number;
  readonly #retries: number;
  readonly #currency: string;

  constructor(deps: {
    pool: pg.Pool;
    provider: PaymentProvider;
    locks: SeatLocks;
    metrics?: ServiceMetrics;
    log: FastifyBaseLogger;
    graceMs: number;
    retries: number;
    currency: string;
  }) {
    this.#pool = deps.pool;
    this.#provider = deps.provider;
    this.#locks = deps.locks;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#graceMs = deps.graceMs;
    this.#retries = deps.retries;
    this.#currency = deps.currency;
  }

  get provider(): PaymentProvider {
    return this.#provider;
  }

  async confirm(request: {
    holdId: string;
    userId: string;
    idempotencyKey: string;
    paymentMethod: string;
  }): Promise<ConfirmResult> {
    // Nothing is charged before step 1 commits, so an unreachable database here is a clean 503.
    const started = await this.#begin(request).catch((error: unknown) => {
      if (isPostgresUnavailable(error)) throw new BookingErrors.StoreUnavailable({ cause: error });
      // Two holds bought at once under one key: the loser's INSERT meets the winner's row.
      if (isUniqueViolation(error, 'purchases_user_id_idempotency_key_key'))
        throw new BookingErrors.IdempotencyKeyReused();
      if (isUniqueViolation(error, 'purchases_hold_id_key'))
        throw new BookingErrors.HoldAlreadyPurchased(request.holdId);
      throw error;
    });
    const purchase = toPurchase(started.purchase);
    trace.getActiveSpan()?.setAttributes({ [Attr.holdId]: request.holdId, [Attr.purchaseId]: purchase.id });
    if (purchase.status !== 'PENDING') {
      this.#metrics?.purchases.inc({ outcome: 'replayed' });
      return { purchase, replayed: true };
    }
    const payment = await this.#charge(started.purchase, request.paymentMethod);
    if (!payment) {
      this.#metrics?.purchases.inc({ outcome: 'pending' });
      return { purchase, replayed: !started.created };
    }
    // The charge is taken. If the store cannot record it now, the purchase stays PENDING: the
    // provider's webhook or the reconciler settles it, as after a lost answer (202, not a 500).
    const settled = await this.applyPayment(request.holdId, payment).catch((error: unknown) => {
      if (!isPostgresUnavailable(error)) throw error;
      this.#log.warn(
        { err: (error as Error).message, holdId: request.holdId, paymentId: payment.id },
        'payment taken but the store is unreachable; left pending for the webhook or the reconciler',
      );
      return undefined;
    });
    if (!settled) {
      this.#metrics?.purchases.inc({ outcome: 'pending' });
      return { purchase, replayed: !started.created };
    }
    return {
      purchase: settled.kind === 'settled' ? settled.purchase : purchase,
      replayed: !started.created,
    };
  }

  /** Step 1: find the purchase of this confirm, or start one (the hold kept for the payment). */
  async #begin(request: {
    holdId: string;
    userId: string;
    idempotencyKey: string;
    paymentMethod: string;
  }): Promise<{ purchase: PurchaseRecord; created: boolean }> {
    const { holdId, userId, idempotencyKey: key, paymentMethod } = request;
    return inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<HoldRow & { live: boolean; event_status: string }>({
        name: 'SELECT hold FOR UPDATE, its event FOR SHARE',
        text: `SELECT ${HOLD_COLUMNS.split(', ')
          .map((c) => `h.${c}`)
          .join(', ')}, h.expires_at > now() AS live, e.status AS event_status
         FROM booking.holds h JOIN booking.events e ON e.id = h.event_id
         WHERE h.id = $1 AND h.user_id = $2
         FOR UPDATE OF h FOR SHARE OF e`,
        values: [holdId, userId],
      });
      const row = rows[0];
      if (!row) throw new BookingErrors.HoldNotFound(holdId);
      const existing = await purchaseOfHold(client, holdId);
      if (existing) {
        if (existing.idempotencyKey !== key) throw new BookingErrors.HoldAlreadyPurchased(holdId);
        // The same key with another card would be refused by the provider after the first
        // charge went through: refuse it here, before anything reaches the provider.
        if (existing.paymentMethod !== null && existing.paymentMethod !== paymentMethod)
          throw new BookingErrors.IdempotencyKeyMismatch();
        return { purchase: existing, created: false };
      }
      const hold = toHold(row);
      if (row.event_status !== 'SCHEDULED')
        throw new BookingErrors.EventNotOnSale(hold.eventId, row.event_status.toLowerCase());
      if (hold.status === 'EXPIRED' || (hold.status === 'ACTIVE' && !row.live)) {
        throw new BookingErrors.HoldExpired(holdId);
      }
      if (hold.status !== 'ACTIVE') throw new BookingErrors.HoldNotActive(holdId, hold.status.toLowerCase());
      // The hold must outlive the payment; if its seats are already gone, nothing is charged.
      if (!(await keepForPayment(client, { id: holdId, seatCount: hold.seatIds.length }, this.#graceMs)))
        throw new BookingErrors.HoldExpired(holdId);
      // A key this user already used for another hold fails here on its unique constraint (the
      // transaction, and the hold's CONFIRMING, roll back): `confirm` answers IdempotencyKeyReused.
      const purchase = await insertPending(client, {
        id: randomUUID(),
        holdId,
        eventId: hold.eventId,
        userId,
        key,
        paymentMethod,
        amountCents: hold.amountCents,
        seatIds: row.seat_ids,
      });
      return { purchase, created: true };
    });
  }

  /**
   * Step 2: charge, retrying an unknown outcome with the same key (the kit's retry, capped
   * jittered backoff). Undefined = the outcome is still unknown: the purchase stays PENDING for
   * the webhook or the reconciler.
   */
  async #charge(purchase: PurchaseRecord, paymentMethod: string): Promise<Payment | undefined> {
    const attempt = async () => {
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
        return payment;
      } catch (error) {
        const outcome = error instanceof PaymentUnknownError ? 'timeout' : 'error';
        this.#metrics?.paymentDuration.observe({ outcome }, (performance.now() - started) / 1000);
        throw error;
      }
    };
    try {
      const payment = await retry(attempt, {
        maxAttempts: this.#retries + 1,
        baseDelayMs: 100,
        maxDelayMs: 1000,
        maxElapsedMs: 30_000,
        // A key conflict answers the same every time: only the reconciler's lookup can tell.
        isRetriable: (error) =>
          error instanceof PaymentUnknownError && !(error instanceof PaymentKeyConflictError),
        onRetry: ({ error, attempt: n }) =>
          this.#log.warn(
            { err: (error as Error).message, holdId: purchase.holdId, attempt: n },
            'payment outcome unknown',
          ),
      });
      trace.getActiveSpan()?.setAttribute(Attr.paymentOutcome, payment.status);
      return payment;
    } catch (error) {
      if (error instanceof PaymentUnknownError) {
        this.#log.warn(
          { err: error.message, holdId: purchase.holdId },
          'payment outcome unknown; left pending',
        );
        trace.getActiveSpan()?.setAttribute(Attr.paymentOutcome, 'unknown');
        return undefined;
      }
      // The provider refused the request itself (400-class other than a key conflict): nothing
      // was charged. Give the seats back.
      this.#log.error({ err: error, holdId: purchase.holdId }, 'payment request refused');
      await this.failUncharged(purchase.holdId, 'PAYMENT_REJECTED');
      throw new BookingErrors.PurchaseFailed('the payment provider refused the request');
    }
  }

  /**
   * Step 3, or its compensation: applies the provider's record of the charge to the hold's
   * purchase, once. A succeeded charge that matches the purchase (amount, currency, reference)
   * sells the seats; a declined one releases them; a charge for a purchase already settled, or
   * one that does not match, is refunded. `webhookEventId` records the delivery in the same
   * transaction, so a second delivery changes nothing.
   */
  async applyPayment(
    holdId: string,
    payment: Payment,
    options: { webhookEventId?: string } = {},
  ): Promise<Settlement> {
    const delivery = options.webhookEventId
      ? { eventId: options.webhookEventId, type: `payment.${payment.status}`, paymentId: payment.id }
      : undefined;
    return this.#settle(holdId, delivery, async (client, current, hold) => {
      if (current.status !== 'PENDING') return this.#refundLateCharge(client, current, payment);
      if (payment.status !== 'succeeded') {
        const reason = `PAYMENT_${payment.status.toUpperCase()}`;
        return this.#fail(client, current, hold, { reason, payment, refund: false });
      }
      if (!this.#matches(current, payment)) {
        this.#log.error(
          { holdId, paymentId: payment.id },
          'charge does not match the purchase; refunding it',
        );
        return this.#fail(client, current, hold, { reason: 'PAYMENT_MISMATCH', payment, refund: true });
      }
      if (await sell(client, { id: holdId, seatCount: hold.seatIds.length }, current.id)) {
        await markConfirmed(client, current.id, payment.id);
        return { kind: 'confirmed', paymentId: payment.id };
      }
      // The hold ran out while the payment was in flight and its seats went back on sale:
      // release what is left of it and refund the charge.
      return this.#fail(client, current, hold, { reason: 'HOLD_EXPIRED', payment, refund: true });
    });
  }

  /**
   * A payment webhook, already signature-checked. The signature only proves who sent it, and a
   * development secret is public, so its content is not trusted: the payment is fetched from
   * the provider, must be the one charged under this hold's key, and only the provider's record
   * is applied (amount, currency and reference checked against the purchase in `applyPayment`).
   */
  async applyWebhook(event: {
    id: string;
    type: string;
    payment: Pick<Payment, 'id' | 'reference'>;
  }): Promise<WebhookOutcome> {
    const { payment } = event;
    // Refunds are ours to start and settle nothing; a reference that is no hold id is not ours.
    if (event.type === 'payment.refunded' || !HOLD_ID.test(payment.reference)) return 'ignored';
    // The charge this purchase was already confirmed with (the provider's own answer to our
    // charge, trusted): a webhook naming it can change nothing, so it needs no lookup at the
    // provider, only its delivery recorded (a second delivery is still a duplicate).
    if (
      event.type === 'payment.succeeded' &&
      (await confirmedChargeOf(this.#pool, payment.reference)) === payment.id
    ) {
      const delivery = { eventId: event.id, type: event.type, paymentId: payment.id };
      return (await this.#firstDelivery(this.#pool, delivery)) ? 'applied' : 'duplicate';
    }
    const recorded = await this.#provider
      .findByIdempotencyKey(paymentKey(payment.reference))
      .catch((error) => {
        throw new BookingErrors.PaymentsUnavailable({ cause: error });
      });
    if (!recorded || recorded.id !== payment.id || recorded.reference !== payment.reference)
      return 'mismatch';
    const settled = await this.applyPayment(payment.reference, recorded, { webhookEventId: event.id });
    return settled.kind === 'duplicate'
      ? 'duplicate'
      : settled.kind === 'no-purchase'
        ? 'ignored'
        : 'applied';
  }

  /** Fails a pending purchase that was never charged (refused, or not found at the provider). */
  async failUncharged(holdId: string, reason: string): Promise<Settlement> {
    return this.#settle(holdId, undefined, async (client, current, hold) =>
      current.status === 'PENDING'
        ? this.#fail(client, current, hold, { reason, refund: false })
        : { kind: 'none' },
    );
  }

  async #settle(
    holdId: string,
    delivery: WebhookDelivery | undefined,
    step: (client: pg.PoolClient, current: PurchaseRecord, hold: Hold) => Promise<Change>,
  ): Promise<Settlement> {
    const outcome = await inTransaction(this.#pool, async (client) => {
      if (delivery && !(await this.#firstDelivery(client, delivery))) return 'duplicate';
      const locked = await lockPurchaseWithHold(client, holdId);
      if (!locked) return 'no-purchase';
      return { current: locked.purchase, change: await step(client, locked.purchase, toHold(locked.hold)) };
    });
    if (outcome === 'duplicate' || outcome === 'no-purchase') return { kind: outcome };
    const { current, change } = outcome;
    await this.#afterSettle(holdId, change);
    // What this transaction left is known without reading it again when nothing happens after
    // the commit: a confirmation, or no change. A failure may have been refunded since: read it.
    if (change.kind === 'none') return { kind: 'settled', purchase: toPurchase(current) };
    if (change.kind === 'confirmed')
      return {
        kind: 'settled',
        purchase: toPurchase({ ...current, status: 'CONFIRMED', paymentId: change.paymentId }),
      };
    return { kind: 'settled', purchase: toPurchase((await purchaseOfHold(this.#pool, holdId))!) };
  }

  async #firstDelivery(client: pg.Pool | pg.PoolClient, delivery: WebhookDelivery): Promise<boolean> {
    const fresh = await client.query({
      name: 'INSERT payment webhook delivery',
      text: `INSERT INTO booking.payment_webhooks (event_id, type, payment_id) VALUES ($1, $2, $3)
       ON CONFLICT (event_id) DO NOTHING`,
      values: [delivery.eventId, delivery.type, delivery.paymentId],
    });
    return fresh.rowCount === 1;
  }

  #matches(current: PurchaseRecord, payment: Payment): boolean {
    return (
      payment.reference === current.holdId &&
      payment.amountCents === current.amountCents &&
      payment.currency === this.#currency
    );
  }

  /** A settled purchase: a charge that succeeded for one that failed is refunded (once). */
  async #refundLateCharge(client: pg.PoolClient, current: PurchaseRecord, payment: Payment): Promise<Change> {
    if (current.status !== 'FAILED' || payment.status !== 'succeeded' || current.refundStatus !== 'NONE')
      return { kind: 'none' };
    await markRefundPending(client, current.id, payment.id);
    return { kind: 'late-charge', refund: payment };
  }

  /** The purchase FAILED and the hold's seats back on sale (EXPIRED when it ran out first). */
  async #fail(
    client: pg.PoolClient,
    current: PurchaseRecord,
    hold: Hold,
    failure: { reason: string; payment?: Payment; refund: boolean },
  ): Promise<Change> {
    await release(client, [hold.id], failure.reason === 'HOLD_EXPIRED' ? 'EXPIRED' : 'RELEASED');
    await markFailed(client, current.id, {
      reason: failure.reason,
      paymentId: failure.payment?.id ?? null,
      refund: failure.refund,
    });
    return {
      kind: 'failed',
      reason: failure.reason,
      hold,
      ...(failure.refund && failure.payment ? { refund: failure.payment } : {}),
    };
  }

  async #afterSettle(holdId: string, change: Change): Promise<void> {
    if (change.kind === 'confirmed') this.#metrics?.purchases.inc({ outcome: 'confirmed' });
    if (change.kind === 'failed') {
      const expired = change.reason === 'HOLD_EXPIRED';
      this.#metrics?.purchases.inc({ outcome: expired ? 'expired' : 'declined' });
      this.#metrics?.holdsReleased.inc({
        reason: expired
          ? 'expired_while_paying'
          : change.reason === 'PAYMENT_DECLINED'
            ? 'declined'
            : 'payment_lost',
      });
      this.#metrics?.compensations.inc({ action: 'release', outcome: 'done' });
      await this.#locks.release(change.hold.eventId, change.hold.seatIds, holdId).catch(() => undefined);
    }
    if ((change.kind === 'failed' || change.kind === 'late-charge') && change.refund) {
      await this.refund(holdId, change.refund.id);
    }
  }

  /**
   * Compensation for a charge that cannot become a sale. True when the provider refunded it;
   * false leaves it PENDING for the reconciler.
   */
  async refund(holdId: string, paymentId: string): Promise<boolean> {
    try {
      await this.#provider.refund(paymentId);
      await markRefunded(this.#pool, holdId);
      this.#metrics?.compensations.inc({ action: 'refund', outcome: 'done' });
      return true;
    } catch (error) {
      this.#metrics?.compensations.inc({ action: 'refund', outcome: 'failed' });
      this.#log.warn(
        { err: (error as Error).message, holdId, paymentId },
        'refund failed; the reconciler retries it',
      );
      return false;
    }
  }

  async getByHold(holdId: string): Promise<Purchase | undefined> {
    const record = await purchaseOfHold(this.#pool, holdId);
    return record && toPurchase(record);
  }

  async get(purchaseId: string, userId: string): Promise<Purchase> {
    const record = await purchaseOfUser(this.#pool, purchaseId, userId);
    if (!record) throw new BookingErrors.PurchaseNotFound(purchaseId);
    return toPurchase(record);
  }
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: unknown; constraint?: unknown };
  return e.code === '23505' && e.constraint === constraint;
}
