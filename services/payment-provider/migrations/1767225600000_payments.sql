-- Up Migration

-- One row per charge. The idempotency key is the provider's guarantee to its callers: a second
-- request with the same key never charges again, it gets this row back (even when the first
-- response was lost to a client timeout). `request_hash` catches a key reused for another charge.
CREATE TABLE payments.payments (
  id               text        PRIMARY KEY,
  idempotency_key  text        NOT NULL UNIQUE,
  request_hash     text        NOT NULL,
  amount_cents     bigint      NOT NULL CHECK (amount_cents > 0),
  currency         text        NOT NULL,
  reference        text        NOT NULL,
  payment_method   text        NOT NULL,
  status           text        NOT NULL CHECK (status IN ('succeeded', 'declined', 'refunded')),
  decline_code     text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  refunded_at      timestamptz,
  CONSTRAINT payments_refund_shape CHECK ((status = 'refunded') = (refunded_at IS NOT NULL))
);
-- Merchants reconcile by their own reference (the booking service's hold id).
CREATE INDEX payments_reference_idx ON payments.payments (reference);

-- Webhook deliveries: written in the same transaction as the payment change, sent by a loop with
-- retries. A "duplicate" delivery is a second row with the same event_id, which is what a real
-- provider's at-least-once delivery looks like to the receiver.
CREATE TABLE payments.webhook_deliveries (
  id              bigserial   PRIMARY KEY,
  event_id        text        NOT NULL,
  payment_id      text        NOT NULL REFERENCES payments.payments (id),
  body            jsonb       NOT NULL,
  -- The charge's trace context: the delivery continues that trace whichever loop sends it.
  trace_context   jsonb       NOT NULL DEFAULT '{}',
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  delivered_at    timestamptz,
  last_error      text
);
CREATE INDEX webhook_deliveries_due_idx ON payments.webhook_deliveries (next_attempt_at)
  WHERE delivered_at IS NULL;

-- Down Migration
DROP TABLE payments.webhook_deliveries;
DROP TABLE payments.payments;
