-- Up Migration

-- The purchase's `hold_id = $1 AND status = 'HELD'` (keepForPayment, sell, release in
-- seat-states.ts) went through the sweep's partial index on HELD seats and filtered hold_id,
-- reading every held seat of every event: ~1,000 buffers per statement, three statements per
-- purchase, on the contended bench's 50,000-seat event (EXPLAIN (ANALYZE, BUFFERS), with fresh
-- statistics too: both indexes were estimated at one row, a tie the planner broke the wrong way).
-- The sweep's index now has the predicate `held_until IS NOT NULL`: the same rows (seats_state
-- gives exactly the HELD seats a deadline), implied by the sweep's `held_until < now()` and not by
-- `status = 'HELD'`, so only the sweep can use it and the purchase goes through seats_hold_idx.
DROP INDEX booking.seats_held_until_idx;
CREATE INDEX seats_held_until_idx ON booking.seats (held_until) WHERE held_until IS NOT NULL;

-- Down Migration

DROP INDEX booking.seats_held_until_idx;
CREATE INDEX seats_held_until_idx ON booking.seats (held_until) WHERE status = 'HELD';
