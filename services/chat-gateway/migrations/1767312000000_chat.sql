-- Up Migration

-- One row per conversation. `last_seq` is the per-conversation sequence: a send takes the next
-- value with `UPDATE ... SET last_seq = last_seq + 1 RETURNING` in the transaction that stores
-- the message (chat.append_message below), so numbers are gap-free and in commit order within
-- the conversation, and the row lock serialises concurrent sends to one conversation only.
CREATE TABLE chat.conversations (
  id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  kind       text        NOT NULL CHECK (kind IN ('direct', 'group')),
  title      text        CHECK (title IS NULL OR length(title) BETWEEN 1 AND 100),
  -- The two user ids of a direct conversation, sorted and joined: at most one per pair.
  direct_key text        UNIQUE,
  created_by text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_seq   bigint      NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  CONSTRAINT conversations_direct_key CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);

-- Membership, and each member's receipts: cumulative, like a TCP ack (everything up to the seq).
CREATE TABLE chat.conversation_members (
  conversation_id uuid        NOT NULL REFERENCES chat.conversations (id) ON DELETE CASCADE,
  user_id         text        NOT NULL,
  role            text        NOT NULL CHECK (role IN ('owner', 'member')),
  joined_at       timestamptz NOT NULL DEFAULT now(),
  delivered_seq   bigint      NOT NULL DEFAULT 0 CHECK (delivered_seq >= 0),
  read_seq        bigint      NOT NULL DEFAULT 0 CHECK (read_seq >= 0 AND read_seq <= delivered_seq),
  PRIMARY KEY (conversation_id, user_id)
);
-- "My conversations".
CREATE INDEX conversation_members_user_idx ON chat.conversation_members (user_id, conversation_id);

-- Messages, keyed by (conversation, seq): history pages and offline catch-up are range scans of
-- this key (keyset pagination [004:752]). The client's id is unique per conversation, so a send
-- retried after a lost ack finds the stored message instead of storing it twice.
CREATE TABLE chat.messages (
  conversation_id uuid        NOT NULL REFERENCES chat.conversations (id) ON DELETE CASCADE,
  seq             bigint      NOT NULL CHECK (seq > 0),
  sender_id       text        NOT NULL,
  client_msg_id   text        NOT NULL,
  body            text        NOT NULL,
  client_ts       bigint,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (conversation_id, seq),
  CONSTRAINT messages_client_msg_id_key UNIQUE (conversation_id, client_msg_id)
);
-- The retention job deletes the oldest first.
CREATE INDEX messages_created_at_idx ON chat.messages (created_at);

-- The send path in one round trip: lock the conversation (sends to one conversation queue here,
-- sends to others do not), then either find the message a retried send refers to, or take the
-- next seq and store the message under it. Under the lock a concurrent try with the same
-- clientMsgId has already committed or rolled back, so the check sees it: numbers stay gap-free
-- and a clientMsgId is stored once. Being one statement, it is its own transaction: when it
-- returns, the message is durable (ack means stored).
CREATE FUNCTION chat.append_message(
  p_conversation_id uuid, p_sender_id text, p_client_msg_id text, p_body text, p_client_ts bigint
) RETURNS TABLE (
  status text, seq bigint, sender_id text, body text, client_ts bigint, created_at timestamptz, members text[]
) LANGUAGE plpgsql AS $$
DECLARE
  v_seq bigint;
  v_members text[];
BEGIN
  PERFORM 1 FROM chat.conversations c
  WHERE c.id = p_conversation_id
    AND EXISTS (SELECT 1 FROM chat.conversation_members m
                WHERE m.conversation_id = p_conversation_id AND m.user_id = p_sender_id)
  FOR UPDATE OF c;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_a_member', NULL::bigint, NULL::text, NULL::text, NULL::bigint, NULL::timestamptz, NULL::text[];
    RETURN;
  END IF;
  SELECT array_agg(m.user_id) INTO v_members FROM chat.conversation_members m WHERE m.conversation_id = p_conversation_id;
  RETURN QUERY
    SELECT 'duplicate', m.seq, m.sender_id, m.body, m.client_ts, m.created_at, v_members
    FROM chat.messages m
    WHERE m.conversation_id = p_conversation_id AND m.client_msg_id = p_client_msg_id;
  IF FOUND THEN
    RETURN;
  END IF;
  UPDATE chat.conversations c SET last_seq = c.last_seq + 1 WHERE c.id = p_conversation_id
  RETURNING c.last_seq INTO v_seq;
  RETURN QUERY
    INSERT INTO chat.messages AS m (conversation_id, seq, sender_id, client_msg_id, body, client_ts)
    VALUES (p_conversation_id, v_seq, p_sender_id, p_client_msg_id, p_body, p_client_ts)
    RETURNING 'stored'::text, m.seq, m.sender_id, m.body, m.client_ts, m.created_at, v_members;
END
$$;

-- Down Migration
DROP FUNCTION chat.append_message(uuid, text, text, text, bigint);
DROP TABLE chat.messages;
DROP TABLE chat.conversation_members;
DROP TABLE chat.conversations;
