-- Up Migration

-- The per-user cap (HOLD_MAX_ACTIVE_PER_USER) counts one user's open holds on every hold. Without
-- this index that count read every open hold of every user (holds_open_idx is on expires_at), so
-- each hold cost more the more holds were open: ~1.4 ms with 700 open holds, and an on-sale keeps
-- tens of thousands open for 10 minutes.
CREATE INDEX holds_user_open_idx ON booking.holds (user_id) WHERE status IN ('ACTIVE', 'CONFIRMING');

-- Down Migration

DROP INDEX booking.holds_user_open_idx;
