/**
 * A service process dies (SIGKILL: no shutdown hook, no drain) in the middle of its work. Chat
 * clients of the dead gateway reconnect to the other one and lose or duplicate no acknowledged
 * message; the click aggregator restarts from the offsets stored with its counts, so they stay
 * exact; the URL shortener restarts and serves every link created before.
 */
import { type ChatClient, chatToken, connectChat, directConversation } from '../chat-client.ts';
import { assert, call, expectStatus, mapLimit, query, sleep } from '../probe.ts';
import type { FaultContext, FaultScenario } from '../scenario.ts';
import {
  adClicks,
  clickRecorded,
  createAd,
  createLink,
  expectReadiness,
  expectRedirect,
  metric,
  runId,
} from '../services.ts';

export const scenario: FaultScenario = {
  name: 'instance-killed',
  title: 'SIGKILL a chat gateway mid-conversation, the click aggregator mid-stream, the URL shortener',
  services: [
    'chat-gateway',
    'chat-gateway-2',
    'ad-click-aggregator',
    'ad-click-aggregator-worker',
    'url-shortener',
  ],
  async run(ctx) {
    const id = runId();
    await chatGatewayKilled(ctx, id);
    await aggregatorKilled(ctx, id);
    await shortenerKilled(ctx, id);
  },
};

/**
 * A client as the protocol asks: it keeps each sent message until acked, and after a disconnect
 * reconnects (here: to the other instance, as a load balancer would send it), syncs from its
 * last contiguous seq and resends what was not acked, with the same clientMsgId.
 */
class Participant {
  client!: ChatClient;
  readonly name: string;
  readonly token: string;
  readonly conversation: string;
  base: string;
  readonly acks = new Map<string, number>();
  readonly pending: string[] = [];
  reconnects = 0;
  #sent = 0;

  constructor(name: string, token: string, conversation: string, base: string) {
    this.name = name;
    this.token = token;
    this.conversation = conversation;
    this.base = base;
  }

  async connect(): Promise<void> {
    this.client = await connectChat(this.base, this.token);
    await this.client.sync(this.conversation, 0);
  }

  /** Sends `count` messages one after another, riding out a disconnect by reconnecting to `fallback`. */
  async talk(count: number, fallback: string, onAck: () => Promise<void>): Promise<void> {
    while (this.acks.size < count) {
      if (this.pending.length === 0) this.pending.push(`${this.name}-${++this.#sent}`);
      const clientMsgId = this.pending[0]!;
      let answer: Awaited<ReturnType<ChatClient['send']>> | undefined;
      try {
        if (!this.client.isOpen) throw new Error('socket closed');
        answer = await this.client.send(this.conversation, `text of ${clientMsgId}`, clientMsgId, 5_000);
      } catch {
        // Closed (or silent) socket: the gateway may be gone. Reconnect elsewhere and resend.
        this.client.terminate();
        this.base = fallback;
        this.reconnects++;
        await this.connect();
        continue;
      }
      if (answer.type === 'ack') {
        this.acks.set(clientMsgId, answer.seq as number);
        this.pending.shift();
        await onAck();
      } else if (answer.code === 'rate_limited' || answer.code === 'unavailable') {
        await sleep(Number(answer.retryAfterMs ?? 200));
      } else {
        throw new Error(`${this.name}: ${JSON.stringify(answer)}`);
      }
      await sleep(100); // the gateway allows 10 sends per second per connection
    }
  }
}

async function chatGatewayKilled(ctx: FaultContext, id: string): Promise<void> {
  const gw1 = ctx.url('chat-gateway');
  const gw2 = ctx.url('chat-gateway-2');
  const chatDb = ctx.env('chat-gateway').DATABASE_URL!;
  const [aliceToken, bobToken] = await Promise.all([
    chatToken(gw1, `alice-${id}`),
    chatToken(gw2, `bob-${id}`),
  ]);
  const conversation = await directConversation(gw1, aliceToken, `bob-${id}`);
  const alice = new Participant(`alice-${id}`, aliceToken, conversation, gw1);
  const bob = new Participant(`bob-${id}`, bobToken, conversation, gw2);
  await alice.connect();
  await bob.connect();
  const PER_USER = 30;
  try {
    await ctx.check(
      'before',
      'chat-gateway',
      'alice (instance 1) and bob (instance 2) talk: acks and live delivery',
      async () => {
        await alice.talk(1, gw2, async () => {});
        await bob.client.waitFor((f) => f.type === 'message' && f.clientMsgId === `alice-${id}-1`);
      },
    );

    let killed = false;
    let killedAtAcks = 0;
    const killAfter = async () => {
      if (!killed && alice.acks.size >= 12) {
        killed = true;
        killedAtAcks = alice.acks.size + bob.acks.size;
        await ctx.kill('chat-gateway');
        ctx.log(`chat-gateway SIGKILLed after ${killedAtAcks} acks`);
      }
    };
    let talkError: unknown;
    await Promise.all([alice.talk(PER_USER, gw2, killAfter), bob.talk(PER_USER, gw2, async () => {})]).catch(
      (error: unknown) => {
        talkError = error;
      },
    );
    await ctx.check('during', 'chat-gateway', 'the instance was killed mid-conversation', async () => {
      assert(killed, `never killed (alice acked ${alice.acks.size})`);
    });
    await ctx.check(
      'during',
      'chat-gateway-2',
      'its clients reconnect to the other instance and every send is acked',
      async () => {
        if (talkError) throw talkError;
        assert(alice.reconnects >= 1, 'alice never reconnected');
        assert(alice.base === gw2 && alice.client.isOpen, 'alice is not connected to chat-gateway-2');
        assert(
          alice.acks.size === PER_USER && bob.acks.size === PER_USER,
          `acked: alice ${alice.acks.size}, bob ${bob.acks.size}`,
        );
      },
    );

    await ctx.check(
      'after',
      'chat-gateway',
      'Postgres holds every acked message exactly once, seq 1..n, each at its acked seq',
      async () => {
        const rows = await query<{ seq: number; client_msg_id: string }>(
          chatDb,
          'SELECT seq::int AS seq, client_msg_id FROM chat.messages WHERE conversation_id = $1 ORDER BY seq',
          [conversation],
        );
        assert(
          rows.every((r, i) => r.seq === i + 1),
          `seqs not 1..n: ${rows.map((r) => r.seq).join(',')}`,
        );
        const stored = new Map(rows.map((r) => [r.client_msg_id, r.seq]));
        assert(stored.size === rows.length, 'a clientMsgId is stored twice');
        const acked = new Map([...alice.acks, ...bob.acks]);
        for (const [clientMsgId, seq] of acked) {
          assert(
            stored.get(clientMsgId) === seq,
            `${clientMsgId} acked at seq ${seq}, stored at ${stored.get(clientMsgId)}`,
          );
        }
        // Stored but never acked is allowed only for a send in flight at the kill (the retry then gets a duplicate ack).
        assert(rows.length === acked.size, `${rows.length} rows for ${acked.size} acked messages`);
      },
    );
    await ctx.check(
      'after',
      'chat-gateway-2',
      'both clients end with the whole conversation, each message once',
      async () => {
        for (const p of [alice, bob]) {
          await p.client.sync(conversation, 0);
          const held = p.client.messages(conversation);
          assert(held.length === PER_USER * 2, `${p.name} holds ${held.length} of ${PER_USER * 2}`);
          assert(
            held.every((m, i) => m.seq === i + 1),
            `${p.name}: seqs ${held.map((m) => m.seq).join(',')}`,
          );
        }
      },
    );
    await ctx.check(
      'after',
      'chat-gateway',
      'restarted, it accepts connections and routes to the other instance live',
      async () => {
        await ctx.restart('chat-gateway');
        const carolToken = await chatToken(gw1, `carol-${id}`);
        const group = await call(`${gw1}/conversations/direct`, {
          json: { peerId: `bob-${id}` },
          headers: { authorization: `Bearer ${carolToken}` },
        });
        expectStatus(group, [200, 201], 'conversation');
        const carol = await connectChat(gw1, carolToken);
        try {
          const ack = await carol.send((group.body as { id: string }).id, 'hi bob', `carol-${id}-1`);
          assert(ack.type === 'ack', `answer ${JSON.stringify(ack)}`);
          await bob.client.waitFor((f) => f.type === 'message' && f.clientMsgId === `carol-${id}-1`);
        } finally {
          await carol.close();
        }
      },
    );
  } finally {
    await Promise.all([alice.client?.close(), bob.client?.close()]);
  }
}

async function aggregatorKilled(ctx: FaultContext, id: string): Promise<void> {
  const ads = ctx.url('ad-click-aggregator');
  const adDb = ctx.env('ad-click-aggregator').DATABASE_URL!;
  const adIds = [`fault-kill-a-${id}`, `fault-kill-b-${id}`];
  const impressions = (
    await Promise.all(adIds.map((adId) => createAd(ads, adId, `https://shop.example.com/${adId}`, 150)))
  ).flatMap((list, i) => list.map((impression) => ({ adId: adIds[i]!, impression })));
  const recorded = new Map(adIds.map((a) => [a, 0]));
  let clicked = 0;
  let killed = false;
  const click = async ({ adId, impression }: { adId: string; impression: string }) => {
    await clickRecorded(ads, impression);
    recorded.set(adId, recorded.get(adId)! + 1);
    if (++clicked === 120 && !killed) {
      killed = true;
      const worker = ctx.url('ad-click-aggregator-worker');
      const [consumed, committed] = await Promise.all([
        metric(worker, 'sdlab_adclick_aggregator_consumed_offset'),
        metric(worker, 'sdlab_adclick_aggregator_committed_offset'),
      ]).catch(() => [Number.NaN, Number.NaN]);
      await ctx.kill('ad-click-aggregator-worker');
      ctx.log(
        `ad-click-aggregator-worker SIGKILLed after 120 clicks (offsets consumed ${consumed}, committed ${committed})`,
      );
    }
  };
  await ctx.check(
    'during',
    'ad-click-aggregator',
    'clicks keep redirecting while the aggregator is killed (300 clicks)',
    async () => {
      // Paced so the worker is mid-stream (consuming, not yet flushed) when it dies.
      await mapLimit(impressions, 3, async (item) => {
        await click(item);
        await sleep(15);
      });
      assert(killed, 'the worker was never killed');
    },
  );
  await ctx.check(
    'after',
    'ad-click-aggregator-worker',
    'restarted, it resumes from its stored offsets: every count exact (within 60 s)',
    async () => {
      await ctx.restart('ad-click-aggregator-worker');
      await ctx.eventually(
        async () => {
          for (const adId of adIds) {
            const total = await adClicks(ads, adId);
            assert(
              total === recorded.get(adId),
              `${adId}: query API ${total}, recorded ${recorded.get(adId)}`,
            );
          }
        },
        60_000,
        1000,
      );
    },
  );
  await ctx.check(
    'after',
    'ad-click-aggregator-worker',
    'Postgres: one raw row per click, roll-ups equal the raw rows',
    async () => {
      const rows = await query<{ ad_id: string; raw: number; minute: number }>(
        adDb,
        `SELECT r.ad_id, r.raw, (SELECT coalesce(sum(clicks), 0)::int FROM adclick.clicks_minute m WHERE m.ad_id = r.ad_id) AS minute
         FROM (SELECT ad_id, count(*)::int AS raw FROM adclick.raw_clicks WHERE ad_id = ANY($1) GROUP BY ad_id) r`,
        [adIds],
      );
      for (const adId of adIds) {
        const row = rows.find((r) => r.ad_id === adId);
        assert(
          row && row.raw === recorded.get(adId) && row.minute === row.raw,
          `${adId}: ${JSON.stringify(row)}, recorded ${recorded.get(adId)}`,
        );
      }
    },
  );
}

async function shortenerKilled(ctx: FaultContext, id: string): Promise<void> {
  const short = ctx.url('url-shortener');
  const links = await mapLimit(Array.from({ length: 5 }), 5, (_, i) =>
    createLink(short, `https://example.com/killed/${id}/${i}`),
  );
  await ctx.check('before', 'url-shortener', 'links redirect (302)', async () => {
    for (const link of links) await expectRedirect(short, link.code, link.url);
  });
  await ctx.kill('url-shortener');
  ctx.log('url-shortener SIGKILLed');
  await ctx.check(
    'during',
    'url-shortener',
    'a single instance killed: connections are refused, nothing answers wrongly',
    async () => {
      const refused = await call(`${short}/${links[0]!.code}`).then(
        (a) => `answered ${a.status}`,
        () => 'refused',
      );
      assert(refused === 'refused', refused);
    },
  );
  await ctx.check(
    'after',
    'url-shortener',
    'restarted, it is ready and serves every link created before',
    async () => {
      await ctx.restart('url-shortener');
      await expectReadiness(short, 200);
      for (const link of links) await expectRedirect(short, link.code, link.url);
    },
  );
  await ctx.check('after', 'url-shortener', 'new creates never reuse a code (a fresh ID block)', async () => {
    const fresh = await mapLimit(Array.from({ length: 5 }), 5, (_, i) =>
      createLink(short, `https://example.com/killed-after/${id}/${i}`),
    );
    const codes = new Set([...links, ...fresh].map((l) => l.code));
    assert(codes.size === 10, `${codes.size} distinct codes of 10`);
    for (const link of fresh) await expectRedirect(short, link.code, link.url);
  });
}
