import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { createGroup, tokenFor } from './support/api.ts';
import { startGateway } from './support/app.ts';
import { ChatClient, ClosedError } from './support/chat-client.ts';
import { gatewayEnv } from './support/env.ts';
import { spawnGateway } from './support/processes.ts';

const PER_SENDER = 40;

/**
 * A client as the protocol asks: every message keeps its clientMsgId until acked; when the
 * socket dies it reconnects (to the instance still standing, as a load balancer would send it),
 * syncs from its last contiguous seq, and resends what was not acked.
 */
class Participant {
  readonly acked = new Map<string, number>();
  client!: ChatClient;
  reconnects = 0;
  duplicateAcks = 0;
  readonly #token: string;
  readonly #conversation: string;
  #urls: string[];

  readonly userId: string;

  constructor(userId: string, token: string, conversation: string, urls: string[]) {
    this.userId = userId;
    this.#token = token;
    this.#conversation = conversation;
    this.#urls = urls;
  }

  async connect(): Promise<void> {
    for (;;) {
      try {
        this.client = await ChatClient.connect(this.#urls[0]!, this.#token);
        return;
      } catch {
        // That instance is gone: the next address (the load balancer's job, in production).
        this.#urls = [...this.#urls.slice(1), this.#urls[0]!];
      }
    }
  }

  async #reconnect(): Promise<void> {
    // Keep what the dead connection held, then catch up from the last contiguous seq.
    for (const m of this.client.messages(this.#conversation)) this.#carried.set(m.seq, m.clientMsgId);
    await this.connect();
    this.reconnects++;
    await this.client.sync(this.#conversation, this.lastContiguousSeq());
  }

  readonly #carried = new Map<number, string>();

  /** Messages held across all of this participant's connections: seq -> clientMsgId. */
  view(): Map<number, string> {
    const view = new Map(this.#carried);
    for (const m of this.client.messages(this.#conversation)) view.set(m.seq, m.clientMsgId);
    return view;
  }

  /** Highest seq up to which every message other than its own is held (its own come back as acks). */
  lastContiguousSeq(): number {
    const view = this.view();
    const own = new Set(this.acked.values());
    let seq = 0;
    while (view.has(seq + 1) || own.has(seq + 1)) seq++;
    return seq;
  }

  async sendAll(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const clientMsgId = `${this.userId}-${i}`;
      for (;;) {
        if (!this.client.isOpen) await this.#reconnect();
        try {
          const result = await this.client.send(this.#conversation, `${this.userId} says ${i}`, clientMsgId);
          if (result.type === 'ack') {
            if (result.duplicate) this.duplicateAcks++;
            this.acked.set(clientMsgId, result.seq);
            break;
          }
          if (result.code !== 'unavailable' && result.code !== 'rate_limited')
            throw new Error(JSON.stringify(result));
          await new Promise((resolve) => setTimeout(resolve, result.retryAfterMs ?? 100));
        } catch (error) {
          if (!(error instanceof ClosedError)) throw error;
        }
      }
    }
  }
}

describe('an instance dies mid-conversation', () => {
  test('its clients reconnect to the other instance; no acknowledged message is lost or duplicated', async ({
    pg,
    redis,
    annotate,
  }) => {
    const env = gatewayEnv(pg, redis, { SEND_RATE_CAPACITY: '1000' });
    const doomed = await spawnGateway(env);
    const survivor = await startGateway(env);
    try {
      const tokens = {
        alice: await tokenFor(survivor.url, 'alice'),
        bob: await tokenFor(survivor.url, 'bob'),
        carol: await tokenFor(survivor.url, 'carol'),
      };
      const group = await createGroup(survivor.url, tokens.alice, 'crash', ['bob', 'carol']);
      // alice and bob start on the doomed instance, carol on the survivor.
      const participants = [
        new Participant('alice', tokens.alice, group, [doomed.wsUrl, survivor.wsUrl]),
        new Participant('bob', tokens.bob, group, [doomed.wsUrl, survivor.wsUrl]),
        new Participant('carol', tokens.carol, group, [survivor.wsUrl]),
      ];
      for (const p of participants) await p.connect();
      const doomedInstance = participants[0]!.client.hello!.instanceId;
      expect(participants[1]!.client.hello!.instanceId).toBe(doomedInstance);

      const sending = Promise.all(participants.map((p) => p.sendAll(PER_SENDER)));
      // Kill it when the conversation is well under way.
      const [alice, bob, carol] = participants as [Participant, Participant, Participant];
      await alice.client.until(() => alice.acked.size + bob.acked.size >= 15);
      const ackedAtKill = participants.reduce((n, p) => n + p.acked.size, 0);
      await doomed.kill('SIGKILL');
      await sending;

      // Every participant now talks to the survivor.
      for (const p of [alice, bob]) {
        expect(p.reconnects).toBeGreaterThanOrEqual(1);
        expect(p.client.hello!.instanceId).toBe(participants[2]!.client.hello!.instanceId);
      }

      // Postgres: one row per clientMsgId, seqs 1..N without a gap, and each ack's seq is the stored one.
      const { rows } = await pg.pool.query<{ client_msg_id: string; seq: number }>(
        'SELECT client_msg_id, seq::int FROM chat.messages WHERE conversation_id = $1 ORDER BY seq',
        [group],
      );
      const total = PER_SENDER * participants.length;
      expect(rows).toHaveLength(total);
      expect(new Set(rows.map((r) => r.client_msg_id)).size).toBe(total);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      const stored = new Map(rows.map((r) => [r.client_msg_id, r.seq]));
      for (const p of participants) {
        expect(p.acked.size).toBe(PER_SENDER);
        for (const [clientMsgId, seq] of p.acked) expect(stored.get(clientMsgId)).toBe(seq);
      }

      // Each participant ends with the whole conversation once: what it held plus a final sync.
      for (const p of participants) {
        await p.client.sync(group, p.lastContiguousSeq());
        const view = p.view();
        for (const row of rows) {
          if (row.client_msg_id.startsWith(`${p.userId}-`)) continue; // own messages come as acks
          expect(view.get(row.seq), `${p.userId} seq ${row.seq}`).toBe(row.client_msg_id);
        }
      }
      const resent = participants.reduce((n, p) => n + p.duplicateAcks, 0);
      await annotate(
        `crash: SIGKILL after ${ackedAtKill} acks; ${total} messages acked and stored once (seq 1..${total}); ` +
          `reconnects alice=${alice.reconnects} bob=${bob.reconnects} carol=${carol.reconnects}; ` +
          `resends answered as duplicates=${resent}`,
      );
      for (const p of participants) await p.client.close();
    } finally {
      await doomed.kill('SIGKILL');
      await survivor.close();
    }
  });
});
