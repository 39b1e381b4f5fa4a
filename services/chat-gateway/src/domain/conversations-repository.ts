import type pg from 'pg';
import { ChatErrors } from '../errors.ts';
import type { Message } from '../schemas/frames.ts';

export interface Conversation {
  id: string;
  kind: 'direct' | 'group';
  title: string | null;
  createdBy: string;
  createdAt: string;
  lastSeq: number;
}

export interface Member {
  userId: string;
  role: 'owner' | 'member';
  joinedAt: string;
  deliveredSeq: number;
  readSeq: number;
}

export interface ConversationSummary extends Conversation {
  memberCount: number;
  /** The caller's own receipts in this conversation. */
  deliveredSeq: number;
  readSeq: number;
}

export interface AppendInput {
  conversationId: string;
  senderId: string;
  clientMsgId: string;
  text: string;
  clientTs?: number | undefined;
}

export type AppendResult =
  | { status: 'stored' | 'duplicate'; message: Message; members: string[] }
  | { status: 'not_a_member' }
  | { status: 'client_msg_id_taken' };

export interface Page {
  lastSeq: number;
  messages: Message[];
  hasMore: boolean;
}

export interface ReceiptResult {
  previous: { delivered: number; read: number };
  current: { delivered: number; read: number };
}

// The send path: one round trip to a function of the migrations (chat.append_messages) per group
// commit. It locks the batch's conversations, finds retried sends' stored messages, takes the next
// seqs per conversation and stores the new messages in one INSERT, and returns, per input row in
// order, the message and the members to route to. One statement is one transaction: durable on
// return, or nothing of the batch stored.
const APPEND_BATCH =
  'SELECT * FROM chat.append_messages($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[])';

const MESSAGE_COLUMNS = 'seq, sender_id, client_msg_id, body, client_ts, created_at';

/** Postgres access for conversations, members, messages and receipts. */
export class ConversationsRepository {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** One message in its own transaction (the send path batches through GroupCommit instead). */
  async append(input: AppendInput): Promise<AppendResult> {
    const [result] = await this.appendBatch([input]);
    return result!;
  }

  /**
   * Stores a batch of messages in one transaction: each with the next seq of its conversation (in
   * batch order), or found as the one an earlier try stored. Results are in input order. Throws
   * if the transaction fails, and then none of them is stored.
   */
  async appendBatch(inputs: readonly AppendInput[]): Promise<AppendResult[]> {
    const { rows } = await this.#pool.query(APPEND_BATCH, [
      inputs.map((i) => i.conversationId),
      inputs.map((i) => i.senderId),
      inputs.map((i) => i.clientMsgId),
      inputs.map((i) => i.text),
      inputs.map((i) => i.clientTs ?? null),
    ]);
    if (rows.length !== inputs.length)
      throw new Error(`append_messages answered ${rows.length} rows for ${inputs.length} messages`);
    return inputs.map((input, i): AppendResult => {
      const row = rows[i];
      if (row.status === 'not_a_member') return { status: 'not_a_member' };
      if (row.sender_id !== input.senderId) return { status: 'client_msg_id_taken' };
      return {
        status: row.status === 'stored' ? 'stored' : 'duplicate',
        members: row.members ?? [],
        message: toMessage(input.conversationId, { ...row, client_msg_id: input.clientMsgId }),
      };
    });
  }

  /**
   * A page of messages for a member: after `afterSeq` ascending (catching up), or the newest
   * before `beforeSeq` (scrolling back), always returned in ascending order. Null: not a member.
   */
  async page(
    conversationId: string,
    userId: string,
    cursor: { afterSeq: number } | { beforeSeq: number | null },
    limit: number,
  ): Promise<Page | null> {
    const after = 'afterSeq' in cursor;
    const bound = after ? cursor.afterSeq : (cursor.beforeSeq ?? Number.MAX_SAFE_INTEGER);
    // limit + 1 rows tell whether another page exists without a count.
    const { rows } = await this.#pool.query(
      `SELECT c.last_seq, m.*
       FROM chat.conversations c
       JOIN chat.conversation_members cm ON cm.conversation_id = c.id AND cm.user_id = $2
       LEFT JOIN LATERAL (
         SELECT ${MESSAGE_COLUMNS} FROM chat.messages
         WHERE conversation_id = c.id AND ${after ? 'seq > $3' : 'seq < $3'}
         ORDER BY seq ${after ? 'ASC' : 'DESC'} LIMIT $4
       ) m ON true
       WHERE c.id = $1`,
      [conversationId, userId, bound, limit + 1],
    );
    if (rows.length === 0) return null;
    const found = rows.filter((r) => r.seq !== null);
    const hasMore = found.length > limit;
    const kept = found.slice(0, limit).map((r) => toMessage(conversationId, r));
    if (!after) kept.reverse();
    return { lastSeq: Number(rows[0].last_seq), messages: kept, hasMore };
  }

  /**
   * Moves a member's cumulative receipt forward (never back, never past the conversation's last
   * seq; `read` implies `delivered`). Null: not a member.
   */
  async receipt(
    conversationId: string,
    userId: string,
    kind: 'delivered' | 'read',
    seq: number,
  ): Promise<ReceiptResult | null> {
    // The FOR UPDATE sub-select returns the row as it was before this UPDATE, even when another
    // device of the same user moves it concurrently (it waits for that one, then reads its result).
    const { rows } = await this.#pool.query(
      `UPDATE chat.conversation_members m
       SET delivered_seq = GREATEST(m.delivered_seq, LEAST($3::bigint, c.last_seq)),
           read_seq = CASE WHEN $4 THEN GREATEST(m.read_seq, LEAST($3::bigint, c.last_seq)) ELSE m.read_seq END
       FROM (SELECT delivered_seq, read_seq FROM chat.conversation_members
             WHERE conversation_id = $1 AND user_id = $2 FOR UPDATE) prev,
            chat.conversations c
       WHERE m.conversation_id = $1 AND m.user_id = $2 AND c.id = $1
       RETURNING prev.delivered_seq AS prev_delivered, prev.read_seq AS prev_read,
                 m.delivered_seq, m.read_seq`,
      [conversationId, userId, seq, kind === 'read'],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      previous: { delivered: Number(row.prev_delivered), read: Number(row.prev_read) },
      current: { delivered: Number(row.delivered_seq), read: Number(row.read_seq) },
    };
  }

  /**
   * Who sent messages in (afterSeq, uptoSeq], other than `exceptUserId`: the users a receipt is
   * for. Looks at the last `window` messages of the range at most; senders of older ones read
   * the receipt from the members list instead of getting it pushed.
   */
  async sendersBetween(
    conversationId: string,
    afterSeq: number,
    uptoSeq: number,
    exceptUserId: string,
    window = 1000,
  ): Promise<string[]> {
    const { rows } = await this.#pool.query(
      `SELECT DISTINCT sender_id FROM chat.messages
       WHERE conversation_id = $1 AND seq > $2 AND seq <= $3 AND sender_id <> $4`,
      [conversationId, Math.max(afterSeq, uptoSeq - window), uptoSeq, exceptUserId],
    );
    return rows.map((r) => r.sender_id as string);
  }

  async memberIds(conversationId: string): Promise<string[]> {
    const { rows } = await this.#pool.query(
      'SELECT user_id FROM chat.conversation_members WHERE conversation_id = $1',
      [conversationId],
    );
    return rows.map((r) => r.user_id as string);
  }

  /** The direct conversation of two users, created on first use. */
  async openDirect(
    userId: string,
    peerId: string,
  ): Promise<{ conversation: Conversation; created: boolean }> {
    if (userId === peerId) throw new ChatErrors.SelfConversation();
    // A space cannot occur in a user id, so the pair key is unambiguous.
    const key = [userId, peerId].sort().join(' ');
    const created = await this.#transaction(async (client) => {
      const { rows } = await client.query(
        `INSERT INTO chat.conversations (kind, direct_key, created_by) VALUES ('direct', $1, $2)
         ON CONFLICT (direct_key) DO NOTHING RETURNING *`,
        [key, userId],
      );
      if (!rows[0]) return { commit: false, value: undefined };
      await client.query(
        `INSERT INTO chat.conversation_members (conversation_id, user_id, role)
         SELECT $1, u, 'member' FROM unnest($2::text[]) u`,
        [rows[0].id, [userId, peerId]],
      );
      return { commit: true, value: rows[0] };
    });
    if (created) return { conversation: toConversation(created), created: true };
    // The pair exists (perhaps created a moment ago by the peer): the conflict waited for it.
    const { rows } = await this.#pool.query('SELECT * FROM chat.conversations WHERE direct_key = $1', [key]);
    return { conversation: toConversation(rows[0]), created: false };
  }

  async createGroup(ownerId: string, title: string, memberIds: string[], maxMembers: number) {
    const members = [...new Set([ownerId, ...memberIds])];
    if (members.length > maxMembers) throw new ChatErrors.GroupFull(maxMembers);
    const { rows } = await this.#pool.query(
      `WITH conv AS (
         INSERT INTO chat.conversations (kind, title, created_by) VALUES ('group', $1, $2) RETURNING *
       ), added AS (
         INSERT INTO chat.conversation_members (conversation_id, user_id, role)
         SELECT conv.id, u, CASE WHEN u = $2 THEN 'owner' ELSE 'member' END FROM conv, unnest($3::text[]) u
       )
       SELECT * FROM conv`,
      [title, ownerId, members],
    );
    return { conversation: toConversation(rows[0]), members };
  }

  /** The conversation and its members, for a member; null otherwise. */
  async get(conversationId: string, userId: string): Promise<(Conversation & { members: Member[] }) | null> {
    const { rows } = await this.#pool.query(
      `SELECT c.*, json_agg(json_build_object(
           'userId', m.user_id, 'role', m.role, 'joinedAt', m.joined_at,
           'deliveredSeq', m.delivered_seq, 'readSeq', m.read_seq) ORDER BY m.joined_at, m.user_id) AS members
       FROM chat.conversations c
       JOIN chat.conversation_members me ON me.conversation_id = c.id AND me.user_id = $2
       JOIN chat.conversation_members m ON m.conversation_id = c.id
       WHERE c.id = $1
       GROUP BY c.id`,
      [conversationId, userId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      ...toConversation(row),
      members: (row.members as Record<string, unknown>[]).map((m) => ({
        userId: String(m.userId),
        role: m.role as Member['role'],
        joinedAt: new Date(String(m.joinedAt)).toISOString(),
        deliveredSeq: Number(m.deliveredSeq),
        readSeq: Number(m.readSeq),
      })),
    };
  }

  /** The user's conversations in id order (keyset: pass the last id of a page as `afterId`). */
  async list(userId: string, limit: number, afterId?: string): Promise<ConversationSummary[]> {
    const { rows } = await this.#pool.query(
      `SELECT c.*, m.delivered_seq, m.read_seq,
         (SELECT count(*) FROM chat.conversation_members a WHERE a.conversation_id = c.id) AS member_count
       FROM chat.conversation_members m
       JOIN chat.conversations c ON c.id = m.conversation_id
       WHERE m.user_id = $1 AND ($2::uuid IS NULL OR m.conversation_id > $2::uuid)
       ORDER BY m.conversation_id
       LIMIT $3`,
      [userId, afterId ?? null, limit],
    );
    return rows.map((row) => ({
      ...toConversation(row),
      memberCount: Number(row.member_count),
      deliveredSeq: Number(row.delivered_seq),
      readSeq: Number(row.read_seq),
    }));
  }

  /** Adds members to a group (owner only), keeping it within `maxMembers`; returns who was new. */
  async addMembers(conversationId: string, byUserId: string, userIds: string[], maxMembers: number) {
    const added = await this.#transaction(async (client) => {
      // Locking the conversation row serialises concurrent adds, so two of them cannot both see
      // room for the last seat.
      const role = await this.#lockGroup(client, conversationId, byUserId);
      if (role !== 'owner') throw new ChatErrors.NotOwner('add members');
      const inserted = await client.query(
        `INSERT INTO chat.conversation_members (conversation_id, user_id, role)
         SELECT $1, u, 'member' FROM unnest($2::text[]) u
         ON CONFLICT DO NOTHING RETURNING user_id`,
        [conversationId, [...new Set(userIds)]],
      );
      const count = await client.query(
        'SELECT count(*)::int AS n FROM chat.conversation_members WHERE conversation_id = $1',
        [conversationId],
      );
      if (count.rows[0].n > maxMembers) throw new ChatErrors.GroupFull(maxMembers);
      return { commit: true, value: inserted.rows.map((r) => r.user_id as string) };
    });
    return added ?? [];
  }

  /** The owner removes a member, or a member leaves (the owner cannot leave their group). */
  async removeMember(conversationId: string, byUserId: string, userId: string): Promise<void> {
    await this.#transaction(async (client) => {
      const role = await this.#lockGroup(client, conversationId, byUserId);
      if (userId !== byUserId && role !== 'owner') throw new ChatErrors.NotOwner('remove other members');
      if (userId === byUserId && role === 'owner') throw new ChatErrors.OwnerCannotLeave();
      const deleted = await client.query(
        'DELETE FROM chat.conversation_members WHERE conversation_id = $1 AND user_id = $2',
        [conversationId, userId],
      );
      if (deleted.rowCount === 0) throw new ChatErrors.MemberNotFound(userId);
      return { commit: true, value: undefined };
    });
  }

  /** Runs `work` in a transaction; it says whether to commit, and what to return if it did. */
  /**
   * Locks a group's row for the rest of the transaction and returns `byUserId`'s role in it;
   * refuses a conversation the user is not in (as not found) and one that is not a group.
   */
  async #lockGroup(client: pg.PoolClient, conversationId: string, byUserId: string): Promise<string> {
    const { rows } = await client.query(
      `SELECT c.kind, m.role FROM chat.conversations c
       LEFT JOIN chat.conversation_members m ON m.conversation_id = c.id AND m.user_id = $2
       WHERE c.id = $1 FOR UPDATE OF c`,
      [conversationId, byUserId],
    );
    const row = rows[0];
    if (!row?.role) throw new ChatErrors.ConversationNotFound(conversationId);
    if (row.kind !== 'group') throw new ChatErrors.NotAGroup();
    return row.role as string;
  }

  async #transaction<T>(
    work: (client: pg.PoolClient) => Promise<{ commit: boolean; value: T }>,
  ): Promise<T | undefined> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const { commit, value } = await work(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return commit ? value : undefined;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

function toConversation(row: Record<string, unknown>): Conversation {
  return {
    id: String(row.id),
    kind: row.kind as Conversation['kind'],
    title: (row.title as string | null) ?? null,
    createdBy: String(row.created_by),
    createdAt: (row.created_at as Date).toISOString(),
    lastSeq: Number(row.last_seq),
  };
}

function toMessage(conversationId: string, row: Record<string, unknown>): Message {
  const message: Message = {
    conversationId,
    seq: Number(row.seq),
    senderId: String(row.sender_id),
    clientMsgId: String(row.client_msg_id),
    text: String(row.body),
    createdAt: (row.created_at as Date).toISOString(),
  };
  if (row.client_ts !== null && row.client_ts !== undefined) message.clientTs = Number(row.client_ts);
  return message;
}
