-- Up Migration

-- The card a purchase charges: a retry under the same Idempotency-Key with another card is
-- refused before it reaches the provider (which would refuse it too, after the first charge).
ALTER TABLE booking.purchases ADD COLUMN payment_method text;

-- The reconciler's bookkeeping, as the outbox relay keeps it: a row that keeps failing is tried
-- again later and later, then parked for a person, never retried in a tight loop at the head of
-- the queue.
ALTER TABLE booking.purchases
  ADD COLUMN reconcile_attempts integer     NOT NULL DEFAULT 0,
  ADD COLUMN next_reconcile_at  timestamptz,
  ADD COLUMN reconcile_error    text,
  ADD COLUMN parked_at          timestamptz;
DROP INDEX booking.purchases_pending_idx;
CREATE INDEX purchases_unsettled_idx ON booking.purchases (coalesce(next_reconcile_at, updated_at))
  WHERE (status = 'PENDING' OR refund_status = 'PENDING') AND parked_at IS NULL;

-- Down Migration

DROP INDEX booking.purchases_unsettled_idx;
CREATE INDEX purchases_pending_idx ON booking.purchases (updated_at)
  WHERE status = 'PENDING' OR refund_status = 'PENDING';
ALTER TABLE booking.purchases
  DROP COLUMN parked_at,
  DROP COLUMN reconcile_error,
  DROP COLUMN next_reconcile_at,
  DROP COLUMN reconcile_attempts,
  DROP COLUMN payment_method;
