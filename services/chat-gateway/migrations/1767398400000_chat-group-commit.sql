-- Up Migration

-- Group commit: the messages one gateway received within a short window, stored in one
-- statement, so one transaction and one commit hold them all. Per input row it answers what
-- chat.append_message answers for one (stored, duplicate, not_a_member; the caller tells
-- client_msg_id_taken from the sender), in input order (`ord`, 1-based).
--
-- - The batch's conversations are locked in id order: two gateways committing batches over the
--   same conversations queue on each other instead of deadlocking.
-- - The next statement runs under those locks with a fresh snapshot (READ COMMITTED), so it sees
--   every message a concurrent batch committed: a retried clientMsgId is found, not stored twice.
-- - Seqs are allocated per conversation in one UPDATE (last_seq + the batch's count) and the new
--   rows numbered last_seq + 1.. in input order, so a connection's messages (which arrive in
--   order) keep their order, and numbers stay gap-free. One multi-row INSERT stores them.
-- - The same clientMsgId twice in one batch (two devices retrying at once): the first is stored,
--   the later ones answer with its row (duplicate, or taken if another sender used it).
-- - Any error rolls the whole statement back: nothing of the batch is stored, nothing acked.
CREATE FUNCTION chat.append_messages(
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

-- Down Migration
DROP FUNCTION chat.append_messages(uuid[], text[], text[], text[], bigint[]);
