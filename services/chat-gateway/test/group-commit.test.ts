import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { createGroup, tokenFor } from './support/api.ts';
import { startGateway } from './support/app.ts';
import { ChatClient } from './support/chat-client.ts';
import { gatewayEnv } from './support/env.ts';
import { spawnGateway } from './support/processes.ts';

const GROUPS = 4;
const MEMBERS = 6;
const IN_FLIGHT = 4;

interface Sender {
  userId: string;
  conversation: string;
  client: ChatClient;
  /** clientMsgId -> seq, from acks */
  acked: Map<string, number>;
  sent: number;
}

/** Keeps IN_FLIGHT sends outstanding on a socket until it closes; records every ack. */
function pump(sender: Sender): void {
  const next = () => {
    if (!sender.client.isOpen) return;
    const clientMsgId = `${sender.userId}-${sender.sent++}`;
    sender.client.frame({
      type: 'send',
      conversationId: sender.conversation,
      clientMsgId,
      text: clientMsgId,
    });
  };
  sender.client.ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; clientMsgId?: string; seq?: number };
    if (frame.type === 'ack') {
      sender.acked.set(frame.clientMsgId!, frame.seq!);
      next();
    } else if (frame.type === 'error') next();
  });
  for (let i = 0; i < IN_FLIGHT; i++) next();
}

/** Sum and count of the commit-batch histogram on a gateway's /metrics. */
async function commitBatches(url: string): Promise<{ messages: number; commits: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    messages: value('sdlab_chat_commit_batch_messages_sum'),
    commits: value('sdlab_chat_commit_batch_messages_count'),
  };
}

describe('group commit', () => {
  test('no message is acked before it is stored: kill -9 mid-stream with batches in flight', async ({
    pg,
    redis,
    annotate,
  }) => {
    // A window keeps batches large and the time between a message's arrival and its commit long:
    // an ack written before the commit would be caught by the kill with its message unstored.
    const env = gatewayEnv(pg, redis, { SEND_RATE_CAPACITY: '100000', GROUP_COMMIT_WINDOW_MS: '20' });
    const doomed = await spawnGateway(env);
    try {
      const senders: Sender[] = [];
      for (let g = 0; g < GROUPS; g++) {
        const users = Array.from({ length: MEMBERS }, (_, m) => `u${g}-${m}`);
        const tokens = await Promise.all(users.map((u) => tokenFor(doomed.url, u)));
        const conversation = await createGroup(doomed.url, tokens[0]!, `g${g}`, users.slice(1));
        for (const [m, userId] of users.entries()) {
          const client = await ChatClient.connect(doomed.wsUrl, tokens[m]!);
          senders.push({ userId, conversation, client, acked: new Map(), sent: 0 });
        }
      }
      for (const sender of senders) pump(sender);
      const ackedCount = () => senders.reduce((n, s) => n + s.acked.size, 0);
      // Well under way, and batching (more than one message per commit on average).
      await senders[0]!.client.until(() => ackedCount() >= 600, 60_000);
      const batches = await commitBatches(doomed.url);
      await doomed.kill('SIGKILL');
      await Promise.all(senders.map((s) => s.client.closed));
      expect(batches.messages / batches.commits).toBeGreaterThan(1);

      const { rows } = await pg.pool.query<{ conversation_id: string; client_msg_id: string; seq: number }>(
        'SELECT conversation_id, client_msg_id, seq::int FROM chat.messages ORDER BY conversation_id, seq',
      );
      const stored = new Map(rows.map((r) => [`${r.conversation_id}/${r.client_msg_id}`, r.seq]));
      let acked = 0;
      for (const sender of senders) {
        for (const [clientMsgId, seq] of sender.acked) {
          acked++;
          expect(stored.get(`${sender.conversation}/${clientMsgId}`), `${clientMsgId} acked`).toBe(seq);
        }
      }
      // Per conversation: seq 1..n, each once, and last_seq = n.
      const conversations = [...new Set(senders.map((s) => s.conversation))];
      for (const conversation of conversations) {
        const seqs = rows.filter((r) => r.conversation_id === conversation).map((r) => r.seq);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
        const { rows: last } = await pg.pool.query<{ last_seq: number }>(
          'SELECT last_seq::int FROM chat.conversations WHERE id = $1',
          [conversation],
        );
        expect(last[0]!.last_seq).toBe(seqs.length);
      }
      // Each sender's own messages are stored in the order it sent them.
      for (const sender of senders) {
        const own = rows
          .filter(
            (r) =>
              r.conversation_id === sender.conversation && r.client_msg_id.startsWith(`${sender.userId}-`),
          )
          .map((r) => Number(r.client_msg_id.slice(sender.userId.length + 1)));
        expect(own).toEqual([...own].sort((a, b) => a - b));
      }
      await annotate(
        `group commit, kill -9: ${senders.length} senders, ${acked} acked, ${rows.length} stored; ` +
          `${(batches.messages / batches.commits).toFixed(1)} messages per commit before the kill; ` +
          'every ack names its stored seq, seqs gap-free per conversation',
      );
    } finally {
      await doomed.kill('SIGKILL');
    }
  });

  test('a commit that fails acks none of its messages, stores none, and burns no seq', async ({
    pg,
    redis,
    annotate,
  }) => {
    const gateway = await startGateway(
      gatewayEnv(pg, redis, { SEND_RATE_CAPACITY: '1000', GROUP_COMMIT_WINDOW_MS: '250' }),
    );
    try {
      // Postgres refuses, at COMMIT, any transaction that stored a message reading "poison".
      await pg.pool.query(`
        CREATE FUNCTION chat.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.body = 'poison' THEN RAISE EXCEPTION 'poison refused at commit'; END IF;
          RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER refuse_poison AFTER INSERT ON chat.messages
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION chat.refuse_poison();`);
      const users = Array.from({ length: 10 }, (_, i) => `p${i}`);
      const tokens = await Promise.all(users.map((u) => tokenFor(gateway.url, u)));
      const conversation = await createGroup(gateway.url, tokens[0]!, 'poison', users.slice(1));
      const clients = await Promise.all(tokens.map((t) => ChatClient.connect(gateway.wsUrl, t)));

      // All at once: one window, one batch, and one of them poisons its commit.
      const results = await Promise.all(
        clients.map((c, i) => c.send(conversation, i === 3 ? 'poison' : `fine ${i}`, `m${i}`)),
      );
      const acked = results.filter((r) => r.type === 'ack');
      const refused = results.filter((r) => r.type === 'error');
      expect(results[3]).toMatchObject({ type: 'error', code: 'unavailable', ref: 'm3' });
      for (const r of refused) expect(r).toMatchObject({ code: 'unavailable' });
      // The poisoned batch held others too, and none of them was acked or stored.
      expect(refused.length).toBeGreaterThan(1);
      const { rows } = await pg.pool.query<{ client_msg_id: string; seq: number }>(
        'SELECT client_msg_id, seq::int FROM chat.messages WHERE conversation_id = $1 ORDER BY seq',
        [conversation],
      );
      const storedIds = new Set(rows.map((r) => r.client_msg_id));
      for (const r of refused) expect(storedIds.has(r.ref!)).toBe(false);
      for (const r of acked) expect(storedIds.has(r.clientMsgId)).toBe(true);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: rows.length }, (_, i) => i + 1));

      // Resent as the protocol asks (same clientMsgId; the poison one rewritten): all stored, no gap.
      await pg.pool.query('DROP TRIGGER refuse_poison ON chat.messages');
      for (const r of refused) {
        const i = Number(r.ref!.slice(1));
        expect(await clients[i]!.send(conversation, `fine again ${i}`, r.ref!)).toMatchObject({
          type: 'ack',
        });
      }
      const { rows: after } = await pg.pool.query<{ seq: number }>(
        'SELECT seq::int FROM chat.messages WHERE conversation_id = $1 ORDER BY seq',
        [conversation],
      );
      expect(after.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
      await annotate(
        `failed commit: ${refused.length} of 10 sends shared the poisoned batch and got unavailable, none stored; ` +
          `${acked.length} in other batches acked and stored; after resending, seq 1..10`,
      );
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      await gateway.close();
    }
  });
});
