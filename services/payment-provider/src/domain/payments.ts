import { createHash, randomBytes } from 'node:crypto';
import { traceContextCarrier } from '@sdlab/service-kit';
import type { Payment } from '@sdlab/service-kit/payment-contract';
import { inTransaction } from '@sdlab/service-kit/postgres';
import type pg from 'pg';
import type { PaymentMethod } from './behaviour.ts';

export type { Payment } from '@sdlab/service-kit/payment-contract';

export interface ChargeRequest {
  amountCents: number;
  currency: string;
  reference: string;
  paymentMethod: PaymentMethod;
}

interface Row {
  id: string;
  request_hash: string;
  status: Payment['status'];
  amount_cents: string;
  currency: string;
  reference: string;
  payment_method: string;
  decline_code: string | null;
  created_at: Date;
  refunded_at: Date | null;
}

const COLUMNS =
  'id, request_hash, status, amount_cents, currency, reference, payment_method, decline_code, created_at, refunded_at';

function toPayment(row: Row): Payment {
  return {
    id: row.id,
    status: row.status,
    amountCents: Number(row.amount_cents),
    currency: row.currency,
    reference: row.reference,
    paymentMethod: row.payment_method,
    declineCode: row.decline_code,
    createdAt: row.created_at.toISOString(),
    refundedAt: row.refunded_at?.toISOString() ?? null,
  };
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}

/** What makes two requests "the same charge": a reused key with another fingerprint is refused. */
export function fingerprint(request: ChargeRequest): string {
  const { amountCents, currency, reference, paymentMethod } = request;
  return createHash('sha256')
    .update(JSON.stringify([amountCents, currency, reference, paymentMethod]))
    .digest('hex');
}

export type WebhookType = 'payment.succeeded' | 'payment.declined' | 'payment.refunded';

export interface Webhooks {
  /** Delivery rows for an event, in the caller's transaction; 2 rows = a duplicate delivery. */
  copies: number;
  delayMs: number;
}

async function insertDeliveries(
  client: pg.PoolClient,
  payment: Payment,
  type: WebhookType,
  webhooks: Webhooks,
): Promise<void> {
  if (webhooks.copies === 0) return;
  const eventId = newId('evt');
  const body = { id: eventId, type, created: new Date().toISOString(), data: { payment } };
  await client.query(
    `INSERT INTO payments.webhook_deliveries (event_id, payment_id, body, trace_context, next_attempt_at)
     SELECT $1, $2, $3, $6, now() + make_interval(secs => $4::double precision / 1000) FROM generate_series(1, $5)`,
    [eventId, payment.id, body, webhooks.delayMs, webhooks.copies, traceContextCarrier()],
  );
}

export class PaymentsRepository {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /**
   * Records a charge once per idempotency key. The insert and its webhook rows commit together;
   * a concurrent or later request with the same key finds the row and gets it back instead.
   */
  async charge(
    key: string,
    request: ChargeRequest,
    outcome: { status: 'succeeded' | 'declined'; declineCode: string | null },
    webhooks: Webhooks,
  ): Promise<{ payment: Payment; replayed: boolean; requestHash: string }> {
    const requestHash = fingerprint(request);
    return inTransaction(this.#pool, async (client) => {
      const inserted = await client.query<Row>(
        `INSERT INTO payments.payments
           (id, idempotency_key, request_hash, amount_cents, currency, reference, payment_method, status, decline_code)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING ${COLUMNS}`,
        [
          newId('pay'),
          key,
          requestHash,
          request.amountCents,
          request.currency,
          request.reference,
          request.paymentMethod,
          outcome.status,
          outcome.declineCode,
        ],
      );
      if (inserted.rows[0]) {
        const payment = toPayment(inserted.rows[0]);
        await insertDeliveries(client, payment, `payment.${outcome.status}`, webhooks);
        return { payment, replayed: false, requestHash };
      }
      // ON CONFLICT DO NOTHING waited for a concurrent insert of the same key to commit, so the
      // row is visible to a fresh statement now.
      const existing = await client.query<Row>(
        `SELECT ${COLUMNS} FROM payments.payments WHERE idempotency_key = $1`,
        [key],
      );
      const row = existing.rows[0]!;
      return { payment: toPayment(row), replayed: true, requestHash: row.request_hash };
    });
  }

  async get(id: string): Promise<Payment | undefined> {
    const { rows } = await this.#pool.query<Row>(`SELECT ${COLUMNS} FROM payments.payments WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? toPayment(rows[0]) : undefined;
  }

  async byReference(reference: string, limit: number): Promise<Payment[]> {
    const { rows } = await this.#pool.query<Row>(
      `SELECT ${COLUMNS} FROM payments.payments WHERE reference = $1 ORDER BY created_at, id LIMIT $2`,
      [reference, limit],
    );
    return rows.map(toPayment);
  }

  async byIdempotencyKey(key: string): Promise<Payment | undefined> {
    const { rows } = await this.#pool.query<Row>(
      `SELECT ${COLUMNS} FROM payments.payments WHERE idempotency_key = $1`,
      [key],
    );
    return rows[0] ? toPayment(rows[0]) : undefined;
  }

  /** Full refund, once: a second request finds the payment already refunded and changes nothing. */
  async refund(
    id: string,
    webhooks: Webhooks,
  ): Promise<{ payment: Payment; replayed: boolean } | { notRefundable: Payment } | undefined> {
    return inTransaction(this.#pool, async (client) => {
      const { rows } = await client.query<Row>(
        `SELECT ${COLUMNS} FROM payments.payments WHERE id = $1 FOR UPDATE`,
        [id],
      );
      const row = rows[0];
      if (!row) return undefined;
      if (row.status === 'refunded') return { payment: toPayment(row), replayed: true };
      if (row.status !== 'succeeded') return { notRefundable: toPayment(row) };
      const updated = await client.query<Row>(
        `UPDATE payments.payments SET status = 'refunded', refunded_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
        [id],
      );
      const payment = toPayment(updated.rows[0]!);
      await insertDeliveries(client, payment, 'payment.refunded', webhooks);
      return { payment, replayed: false };
    });
  }
}
