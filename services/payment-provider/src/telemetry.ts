import { Counter, type Registry } from 'prom-client';

/** Span attribute keys. */
export const Attr = {
  paymentId: 'sdlab.payments.payment_id',
  outcome: 'sdlab.payments.outcome',
  replayed: 'sdlab.payments.replayed',
} as const;

export function createMetrics(registry: Registry) {
  const registers = [registry];
  return {
    charges: new Counter({
      name: 'sdlab_payments_charges_total',
      help: 'New charges by outcome (succeeded, declined) and whether the response was made slow on purpose',
      labelNames: ['outcome', 'slow'] as const,
      registers,
    }),
    replays: new Counter({
      name: 'sdlab_payments_idempotent_replays_total',
      help: 'Requests answered with an earlier charge or refund for the same Idempotency-Key (nothing charged)',
      labelNames: ['op'] as const,
      registers,
    }),
    unavailable: new Counter({
      name: 'sdlab_payments_unavailable_total',
      help: 'Requests refused with a simulated 503 before anything was charged',
      registers,
    }),
    refunds: new Counter({
      name: 'sdlab_payments_refunds_total',
      help: 'Charges refunded',
      registers,
    }),
    webhooks: new Counter({
      name: 'sdlab_payments_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome (delivered, retry, gave_up)',
      labelNames: ['outcome'] as const,
      registers,
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
