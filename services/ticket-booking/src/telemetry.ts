import { trace } from '@opentelemetry/api';
import { LATENCY_BUCKETS } from '@sdlab/service-kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// The booking service's own signals, beside the kit's RED metrics. Each app or worker instance
// registers them on its own registry (app.kit.metrics), so two instances in one process never mix.

export const tracer = trace.getTracer('@sdlab/ticket-booking');

/** Span attribute keys the service sets (the README lists what each span carries). */
export const Attr = {
  eventId: 'sdlab.booking.event_id',
  holdId: 'sdlab.booking.hold_id',
  seatCount: 'sdlab.booking.seat_count',
  takenSeats: 'sdlab.booking.taken_seats',
  /** Which layer refused a hold: redis or postgres. */
  conflictLayer: 'sdlab.booking.conflict_layer',
  /** redis (lock taken), db-only (Redis failed and the database decided alone) or skip-locked (best available). */
  lockMode: 'sdlab.booking.lock_mode',
  /** How many holds shared this hold's Postgres statement and commit (group commit). */
  holdBatchSize: 'sdlab.booking.hold_batch_size',
  purchaseId: 'sdlab.booking.purchase_id',
  paymentOutcome: 'sdlab.booking.payment_outcome',
  cache: 'sdlab.booking.cache',
  outboxIds: 'sdlab.booking.outbox_ids',
  indexLagMs: 'sdlab.booking.index_lag_ms',
  queuePosition: 'sdlab.booking.queue_position',
} as const;

export function createServiceMetrics(registry: Registry) {
  const registers = [registry];
  return {
    holds: new Counter({
      name: 'sdlab_booking_holds_total',
      help: 'Hold requests by outcome: held, conflict (seats taken), sold_out (too few free seats for a best-available hold), not_found, user_cap (too many open holds), unavailable',
      labelNames: ['outcome'] as const,
      registers,
    }),
    holdConflicts: new Counter({
      name: 'sdlab_booking_hold_conflicts_total',
      help: 'Holds refused because a seat was taken, by the layer that saw it: redis (lock) or postgres (conditional update)',
      labelNames: ['layer'] as const,
      registers,
    }),
    lockBypass: new Counter({
      name: 'sdlab_booking_lock_bypass_total',
      help: 'Holds decided by Postgres alone because Redis failed (REDIS_FAILURE_POLICY=db-only)',
      registers,
    }),
    holdSeats: new Histogram({
      name: 'sdlab_booking_hold_seats',
      help: 'Seats per successful hold',
      buckets: [1, 2, 3, 4, 6, 8, 10, 20, 50, 100],
      registers,
    }),
    holdBatchSize: new Histogram({
      name: 'sdlab_booking_hold_batch_size',
      help: 'Holds that shared one Postgres statement and commit (group commit), per hold',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    holdsReleased: new Counter({
      name: 'sdlab_booking_holds_released_total',
      help: 'Holds ended without a sale, by reason: cancelled, declined, payment_lost, expired_while_paying, event_cancelled',
      labelNames: ['reason'] as const,
      registers,
    }),
    purchases: new Counter({
      name: 'sdlab_booking_purchases_total',
      help: 'Purchase outcomes: confirmed, declined, pending (payment outcome unknown), expired, replayed',
      labelNames: ['outcome'] as const,
      registers,
    }),
    paymentDuration: new Histogram({
      name: 'sdlab_booking_payment_duration_seconds',
      help: 'Charge calls to the payment provider, by outcome (succeeded, declined, timeout, error)',
      labelNames: ['outcome'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    compensations: new Counter({
      name: 'sdlab_booking_compensations_total',
      help: 'Saga compensations: release (seats back to AVAILABLE) and refund (a charge undone)',
      labelNames: ['action', 'outcome'] as const,
      registers,
    }),
    webhooks: new Counter({
      name: 'sdlab_booking_payment_webhooks_total',
      help: 'Payment webhooks: applied, duplicate (event id seen before: nothing changed), ignored, mismatch (not the provider record of a charge under the key of the hold), invalid_signature',
      labelNames: ['outcome'] as const,
      registers,
    }),
    eventCache: new Counter({
      name: 'sdlab_booking_event_cache_lookups_total',
      help: 'Event detail lookups by result: hit, miss (read Postgres and filled), error (Redis failed, read Postgres)',
      labelNames: ['result'] as const,
      registers,
    }),
    waitingRoomJoins: new Counter({
      name: 'sdlab_booking_waiting_room_joins_total',
      help: 'Waiting-room joins: new, rejoin (position kept), already_admitted',
      labelNames: ['outcome'] as const,
      registers,
    }),
    accessTokens: new Counter({
      name: 'sdlab_booking_access_tokens_total',
      help: 'Access tokens: issued, accepted (hold allowed), rejected (missing, expired, wrong event or user)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    sseStreams: new Gauge({
      name: 'sdlab_booking_waiting_room_streams',
      help: 'Open waiting-room SSE streams on this instance',
      registers,
    }),
  };
}
export type ServiceMetrics = ReturnType<typeof createServiceMetrics>;

export function createWorkerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    holdsExpired: new Counter({
      name: 'sdlab_booking_holds_expired_total',
      help: 'Holds returned to AVAILABLE by the expiry sweep',
      registers,
    }),
    seatsReleased: new Counter({
      name: 'sdlab_booking_seats_released_total',
      help: 'Seats returned to AVAILABLE by the expiry sweep',
      registers,
    }),
    indexLag: new Histogram({
      name: 'sdlab_booking_search_index_lag_seconds',
      help: 'From the catalogue change committing (outbox row) to Elasticsearch acknowledging it; add the refresh interval for "searchable"',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    outboxRelayed: new Counter({
      name: 'sdlab_booking_outbox_relayed_total',
      help: 'Outbox rows by outcome: indexed, stale (a newer version was already indexed), retry, dead',
      labelNames: ['outcome'] as const,
      registers,
    }),
    outboxPending: new Gauge({
      name: 'sdlab_booking_outbox_pending',
      help: 'Outbox rows not yet relayed to Elasticsearch (sampled each relay pass)',
      registers,
    }),
    waitingRoomAdmitted: new Counter({
      name: 'sdlab_booking_waiting_room_admitted_total',
      help: 'Users admitted from waiting rooms',
      registers,
    }),
    waitingRoomQueued: new Gauge({
      name: 'sdlab_booking_waiting_room_queued',
      help: 'Users still waiting, summed over rooms (after each admission tick)',
      registers,
    }),
    reconciled: new Counter({
      name: 'sdlab_booking_purchases_reconciled_total',
      help: 'Stale purchases settled by asking the provider: confirmed, failed, refunded, refund_failed, not_found, error (tried again later), parked (left for a person)',
      labelNames: ['outcome'] as const,
      registers,
    }),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
