-- Up Migration

-- A venue and its seating layout: [{ "name": "Floor", "rows": 20, "seatsPerRow": 30 }, ...].
-- Seats are inventory of an event, so the layout is copied into seats when an event is created.
CREATE TABLE booking.venues (
  id         uuid        PRIMARY KEY,
  name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  city       text        NOT NULL CHECK (length(city) BETWEEN 1 AND 100),
  address    text        NOT NULL DEFAULT '',
  layout     jsonb       NOT NULL,
  capacity   integer     NOT NULL CHECK (capacity > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE booking.events (
  id              uuid        PRIMARY KEY,
  venue_id        uuid        NOT NULL REFERENCES booking.venues (id),
  name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  performer       text        NOT NULL CHECK (length(performer) BETWEEN 1 AND 200),
  description     text        NOT NULL DEFAULT '',
  category        text        NOT NULL,
  starts_at       timestamptz NOT NULL,
  status          text        NOT NULL DEFAULT 'SCHEDULED' CHECK (status IN ('SCHEDULED', 'CANCELLED')),
  waiting_room    boolean     NOT NULL DEFAULT false,
  min_price_cents integer     NOT NULL,
  max_price_cents integer     NOT NULL,
  seat_count      integer     NOT NULL,
  -- Bumped on every change; Elasticsearch indexes with it as an external version, so a late
  -- retry of an older change can never overwrite a newer document.
  version         bigint      NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_venue_idx ON booking.events (venue_id);

-- One row per seat of an event. The status machine AVAILABLE -> HELD -> SOLD (HELD -> AVAILABLE
-- on expiry, cancel or a failed payment) is enforced here, so no code path can leave a seat
-- half-changed: a HELD seat has its hold and deadline, a SOLD seat its purchase, an AVAILABLE
-- seat neither. A seat row has one purchase_id, so it cannot be sold twice.
CREATE TABLE booking.seats (
  id           bigserial   PRIMARY KEY,
  event_id     uuid        NOT NULL REFERENCES booking.events (id),
  section      text        NOT NULL,
  row_number   integer     NOT NULL,
  seat_number  integer     NOT NULL,
  price_cents  integer     NOT NULL CHECK (price_cents >= 0),
  status       text        NOT NULL DEFAULT 'AVAILABLE' CHECK (status IN ('AVAILABLE', 'HELD', 'SOLD')),
  hold_id      uuid,
  held_until   timestamptz,
  purchase_id  uuid,
  CONSTRAINT seats_state CHECK (
    (status = 'AVAILABLE' AND hold_id IS NULL AND held_until IS NULL AND purchase_id IS NULL)
    OR (status = 'HELD' AND hold_id IS NOT NULL AND held_until IS NOT NULL AND purchase_id IS NULL)
    OR (status = 'SOLD' AND hold_id IS NOT NULL AND held_until IS NULL AND purchase_id IS NOT NULL)
  ),
  UNIQUE (event_id, section, row_number, seat_number)
);
CREATE INDEX seats_event_status_idx ON booking.seats (event_id, status);
CREATE INDEX seats_hold_idx ON booking.seats (hold_id) WHERE hold_id IS NOT NULL;
-- The expiry sweep reads only HELD seats, oldest deadline first.
CREATE INDEX seats_held_until_idx ON booking.seats (held_until) WHERE status = 'HELD';

CREATE TABLE booking.holds (
  id           uuid        PRIMARY KEY,
  event_id     uuid        NOT NULL REFERENCES booking.events (id),
  user_id      text        NOT NULL,
  seat_ids     bigint[]    NOT NULL,
  amount_cents bigint      NOT NULL,
  status       text        NOT NULL CHECK (status IN ('ACTIVE', 'CONFIRMING', 'CONFIRMED', 'CANCELLED', 'EXPIRED', 'RELEASED')),
  expires_at   timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX holds_open_idx ON booking.holds (expires_at) WHERE status IN ('ACTIVE', 'CONFIRMING');

-- The purchase saga's state, one per hold. (user_id, idempotency_key) makes a retried confirm
-- find its purchase; hold_id UNIQUE makes a second purchase of the same hold impossible.
CREATE TABLE booking.purchases (
  id              uuid        PRIMARY KEY,
  hold_id         uuid        NOT NULL UNIQUE REFERENCES booking.holds (id),
  event_id        uuid        NOT NULL,
  user_id         text        NOT NULL,
  idempotency_key text        NOT NULL,
  amount_cents    bigint      NOT NULL,
  status          text        NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'FAILED')),
  failure_reason  text,
  payment_id      text,
  refund_status   text        NOT NULL DEFAULT 'NONE' CHECK (refund_status IN ('NONE', 'PENDING', 'REFUNDED')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, idempotency_key)
);
CREATE INDEX purchases_pending_idx ON booking.purchases (updated_at)
  WHERE status = 'PENDING' OR refund_status = 'PENDING';

-- Payment webhooks already applied: a redelivery of the same event id changes nothing.
CREATE TABLE booking.payment_webhooks (
  event_id    text        PRIMARY KEY,
  type        text        NOT NULL,
  payment_id  text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: written in the transaction that changes an event, relayed to
-- Elasticsearch by the worker. `trace_context` carries the writer's trace across the hop.
CREATE TABLE booking.outbox (
  id              bigserial   PRIMARY KEY,
  aggregate_id    uuid        NOT NULL,
  type            text        NOT NULL,
  payload         jsonb       NOT NULL,
  trace_context   jsonb       NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  dead_at         timestamptz
);
CREATE INDEX outbox_due_idx ON booking.outbox (next_attempt_at, id) WHERE dead_at IS NULL;

-- Down Migration
DROP TABLE booking.outbox;
DROP TABLE booking.payment_webhooks;
DROP TABLE booking.purchases;
DROP TABLE booking.holds;
DROP TABLE booking.seats;
DROP TABLE booking.events;
DROP TABLE booking.venues;
