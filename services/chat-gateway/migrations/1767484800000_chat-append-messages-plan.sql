-- Up Migration

-- chat.append_messages, planned once per connection instead of once per commit. What a commit
-- cost the Postgres backend (its own CPU from /proc, loadtests/bench/chat-append-cost.ts) was
-- ~0.9-1.3 ms fixed plus ~25-30 µs per message: the gateway's commits hold tens of messages, so the
-- fixed part was most of it. log_planner_stats showed where: PL/pgSQL planned the big statement
-- again on every call (~0.35-0.4 ms, a custom plan for each set of array arguments). With a
-- generic plan, kept for the session, a one-message commit took 0.43-0.55 ms.
-- - plan_cache_mode = force_generic_plan on the function: the plan does not depend on the
--   arrays' contents (every access is by key), so the generic plan is the one we want.
-- - `conv` MATERIALIZED: a custom plan had inlined it into the join with the input rows and run
--   the conversations' lookup and member aggregate once per message (loops=64 in EXPLAIN
--   ANALYZE of a 64-message commit); now once per commit in any plan.
-- Everything else is as in the group-commit migration.
CREATE OR REPLACE FUNCTION chat.append_messages(
  p_conversation_ids uuid[], p_sender_ids text[], p_client_msg_ids text[], p_bodies text[], p_client_ts bigint[]
) RETURNS TABLE (
  ord int, status text, seq bigint, sender_id text, body text, client_ts bigint, created_at timestamptz, members text[]
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM 1 FROM chat.conversations c WHERE c.id = ANY (p_conversation_ids) ORDER BY c.id FOR UPDATE OF c;
  RETURN QUERY
  WITH input AS (
    SELECT i.n::int AS n, i.conversation_id, p_sender_ids[i.n] AS sender_id,
           p_client_msg_ids[i.n] AS client_msg_id, p_bodies[i.n] AS body, p_client_ts[i.n] AS client_ts
    FROM unnest(p_conversation_ids) WITH ORDINALITY AS i(conversation_id, n)
  ),
  conv AS MATERIALIZED (
    SELECT c.id, c.last_seq,
           (SELECT array_agg(m.user_id) FROM chat.conversation_members m WHERE m.conversation_id = c.id) AS member_ids
    FROM chat.conversations c
    WHERE c.id IN (SELECT DISTINCT i.conversation_id FROM input i)
  ),
  classified AS (
    SELECT i.*, conv.last_seq, conv.member_ids,
           coalesce(i.sender_id = ANY (conv.member_ids), false) AS is_member,
           e.seq AS e_seq, e.sender_id AS e_sender, e.body AS e_body, e.client_ts AS e_client_ts,
           e.created_at AS e_created_at
    FROM input i
    LEFT JOIN conv ON conv.id = i.conversation_id
    LEFT JOIN chat.messages e ON e.conversation_id = i.conversation_id AND e.client_msg_id = i.client_msg_id
  ),
  ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.conversation_id, c.client_msg_id ORDER BY c.n) AS occurrence
    FROM classified c
    WHERE c.is_member AND c.e_seq IS NULL
  ),
  fresh AS (
    SELECT r.*, r.last_seq + row_number() OVER (PARTITION BY r.conversation_id ORDER BY r.n) AS new_seq
    FROM ranked r
    WHERE r.occurrence = 1
  ),
  bumped AS (
    UPDATE chat.conversations c SET last_seq = c.last_seq + f.added
    FROM (SELECT f.conversation_id, count(*) AS added FROM fresh f GROUP BY f.conversation_id) f
    WHERE c.id = f.conversation_id
  ),
  inserted AS (
    INSERT INTO chat.messages AS m (conversation_id, seq, sender_id, client_msg_id, body, client_ts)
    SELECT f.conversation_id, f.new_seq, f.sender_id, f.client_msg_id, f.body, f.client_ts
    FROM fresh f
    ORDER BY f.conversation_id, f.new_seq
    RETURNING m.conversation_id, m.client_msg_id, m.seq, m.sender_id, m.body, m.client_ts, m.created_at
  )
  SELECT c.n,
         CASE WHEN NOT c.is_member THEN 'not_a_member'
              WHEN c.e_seq IS NULL AND r.occurrence = 1 THEN 'stored'
              ELSE 'duplicate' END,
         coalesce(c.e_seq, s.seq), coalesce(c.e_sender, s.sender_id), coalesce(c.e_body, s.body),
         CASE WHEN c.e_seq IS NOT NULL THEN c.e_client_ts ELSE s.client_ts END,
         coalesce(c.e_created_at, s.created_at), c.member_ids
  FROM classified c
  LEFT JOIN ranked r ON r.n = c.n
  LEFT JOIN inserted s ON c.is_member AND c.e_seq IS NULL
                      AND s.conversation_id = c.conversation_id AND s.client_msg_id = c.client_msg_id
  ORDER BY c.n;
END
$$ SET plan_cache_mode = force_generic_plan;


-- Down Migration
CREATE OR REPLACE FUNCTION chat.append_messages(
  p_conversation_ids uuid[], p_sender_ids text[], p_client_msg_ids text[], p_bodies text[], p_client_ts bigint[]
) RETURNS TABLE (
  ord int, status text, seq bigint, sender_id text, body text, client_ts bigint, created_at timestamptz, members text[]
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  PERFORM 1 FROM chat.conversations c WHERE c.id = ANY (p_conversation_ids) ORDER BY c.id FOR UPDATE OF c;
  RETURN QUERY
  WITH input AS (
    SELECT i.n::int AS n, i.conversation_id, p_sender_ids[i.n] AS sender_id,
           p_client_msg_ids[i.n] AS client_msg_id, p_bodies[i.n] AS body, p_client_ts[i.n] AS client_ts
    FROM unnest(p_conversation_ids) WITH ORDINALITY AS i(conversation_id, n)
  ),
  conv AS (
    SELECT c.id, c.last_seq,
           (SELECT array_agg(m.user_id) FROM chat.conversation_members m WHERE m.conversation_id = c.id) AS member_ids
    FROM chat.conversations c
    WHERE c.id IN (SELECT DISTINCT i.conversation_id FROM input i)
  ),
  classified AS (
    SELECT i.*, conv.last_seq, conv.member_ids,
           coalesce(i.sender_id = ANY (conv.member_ids), false) AS is_member,
           e.seq AS e_seq, e.sender_id AS e_sender, e.body AS e_body, e.client_ts AS e_client_ts,
           e.created_at AS e_created_at
    FROM input i
    LEFT JOIN conv ON conv.id = i.conversation_id
    LEFT JOIN chat.messages e ON e.conversation_id = i.conversation_id AND e.client_msg_id = i.client_msg_id
  ),
  ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY c.conversation_id, c.client_msg_id ORDER BY c.n) AS occurrence
    FROM classified c
    WHERE c.is_member AND c.e_seq IS NULL
  ),
  fresh AS (
    SELECT r.*, r.last_seq + row_number() OVER (PARTITION BY r.conversation_id ORDER BY r.n) AS new_seq
    FROM ranked r
    WHERE r.occurrence = 1
  ),
  bumped AS (
    UPDATE chat.conversations c SET last_seq = c.last_seq + f.added
    FROM (SELECT f.conversation_id, count(*) AS added FROM fresh f GROUP BY f.conversation_id) f
    WHERE c.id = f.conversation_id
  ),
  inserted AS (
    INSERT INTO chat.messages AS m (conversation_id, seq, sender_id, client_msg_id, body, client_ts)
    SELECT f.conversation_id, f.new_seq, f.sender_id, f.client_msg_id, f.body, f.client_ts
    FROM fresh f
    ORDER BY f.conversation_id, f.new_seq
    RETURNING m.conversation_id, m.client_msg_id, m.seq, m.sender_id, m.body, m.client_ts, m.created_at
  )
  SELECT c.n,
         CASE WHEN NOT c.is_member THEN 'not_a_member'
              WHEN c.e_seq IS NULL AND r.occurrence = 1 THEN 'stored'
              ELSE 'duplicate' END,
         coalesce(c.e_seq, s.seq), coalesce(c.e_sender, s.sender_id), coalesce(c.e_body, s.body),
         CASE WHEN c.e_seq IS NOT NULL THEN c.e_client_ts ELSE s.client_ts END,
         coalesce(c.e_created_at, s.created_at), c.member_ids
  FROM classified c
  LEFT JOIN ranked r ON r.n = c.n
  LEFT JOIN inserted s ON c.is_member AND c.e_seq IS NULL
                      AND s.conversation_id = c.conversation_id AND s.client_msg_id = c.client_msg_id
  ORDER BY c.n;
END
$$;

