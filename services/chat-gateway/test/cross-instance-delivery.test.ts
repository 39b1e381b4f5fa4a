import { randomUUID } from 'node:crypto';
import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { api, createGroup, openDirect, tokenFor } from './support/api.ts';
import { startGateway, withTwoGateways } from './support/app.ts';
import { ChatClient } from './support/chat-client.ts';
import { gatewayEnv } from './support/env.ts';

// Two gateway instances, each with its own port, Postgres pool and Redis connections: users on
// different instances talk through the registry and the instances' pub/sub channels.

describe('users on different instances', () => {
  test('exchange 1:1 messages, receipts and typing across instances', async ({ pg, redis, annotate }) => {
    await withTwoGateways(gatewayEnv(pg, redis), async (a, b) => {
      const aliceToken = await tokenFor(a.url, 'alice');
      const bobToken = await tokenFor(b.url, 'bob');
      const alice = await ChatClient.connect(a.wsUrl, aliceToken);
      const bob = await ChatClient.connect(b.wsUrl, bobToken, { viaQuery: true });
      expect(alice.hello?.instanceId).not.toBe(bob.hello?.instanceId);
      const conversation = await openDirect(a.url, aliceToken, 'bob');
      expect(await openDirect(b.url, bobToken, 'alice')).toBe(conversation);

      const acks = [];
      for (let i = 1; i <= 20; i++) acks.push(await alice.send(conversation, `alice ${i}`));
      expect(acks.map((ack) => (ack.type === 'ack' ? ack.seq : ack.code))).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      for (let i = 1; i <= 5; i++) await bob.send(conversation, `bob ${i}`);

      // Each side holds the other's messages once, in seq order; a sender's own socket gets acks,
      // not copies.
      await bob.until(() => bob.messages(conversation).length === 20);
      await alice.until(() => alice.messages(conversation).length === 5);
      expect(bob.messages(conversation).map((m) => m.seq)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      expect(bob.messages(conversation).map((m) => m.text)).toEqual(
        Array.from({ length: 20 }, (_, i) => `alice ${i + 1}`),
      );
      expect(alice.messages(conversation).map((m) => m.seq)).toEqual([21, 22, 23, 24, 25]);
      expect(alice.framesOf('message').every((m) => m.senderId === 'bob')).toBe(true);
      const { rows } = await pg.pool.query(
        'SELECT count(*)::int AS n, max(seq)::int AS last FROM chat.messages WHERE conversation_id = $1',
        [conversation],
      );
      expect(rows[0]).toEqual({ n: 25, last: 25 });

      // Receipts go back to the sender, cumulative; read implies delivered.
      bob.frame({ type: 'receipt', conversationId: conversation, kind: 'delivered', seq: 25 });
      bob.frame({ type: 'receipt', conversationId: conversation, kind: 'read', seq: 20 });
      const read = await alice.waitFor((f) => f.type === 'receipt' && f.kind === 'read');
      expect(read).toMatchObject({ userId: 'bob', seq: 20, conversationId: conversation });
      expect(alice.framesOf('receipt').find((f) => f.kind === 'delivered')).toMatchObject({ seq: 25 });
      const members = await api<{ members: { userId: string; deliveredSeq: number; readSeq: number }[] }>(
        a.url,
        aliceToken,
        'GET',
        `/conversations/${conversation}`,
      );
      expect(members.body.members.find((m) => m.userId === 'bob')).toMatchObject({
        deliveredSeq: 25,
        readSeq: 20,
      });

      // Typing is relayed, and never stored.
      bob.frame({ type: 'typing', conversationId: conversation, state: 'start' });
      expect(await alice.waitFor((f) => f.type === 'typing')).toMatchObject({
        userId: 'bob',
        state: 'start',
      });
      expect((await pg.pool.query('SELECT count(*)::int AS n FROM chat.messages')).rows[0].n).toBe(25);
      await annotate(
        '1:1 across instances: 25 messages (seq 1..25) each held once by the other side; receipts delivered 25 / read 20; typing relayed, 0 rows',
      );

      await alice.close();
      await bob.close();
    });
  });

  test('exchange group messages: every device of every member gets each message once', async ({
    pg,
    redis,
    annotate,
  }) => {
    await withTwoGateways(gatewayEnv(pg, redis), async (a, b) => {
      const tokens = {
        carol: await tokenFor(a.url, 'carol'),
        dave: await tokenFor(b.url, 'dave'),
        erinPhone: await tokenFor(a.url, 'erin', 'phone'),
        erinLaptop: await tokenFor(b.url, 'erin', 'laptop'),
      };
      const group = await createGroup(a.url, tokens.carol, 'team', ['dave', 'erin']);
      const carol = await ChatClient.connect(a.wsUrl, tokens.carol);
      const dave = await ChatClient.connect(b.wsUrl, tokens.dave);
      const erinPhone = await ChatClient.connect(a.wsUrl, tokens.erinPhone);
      const erinLaptop = await ChatClient.connect(b.wsUrl, tokens.erinLaptop);
      const devices = [carol, dave, erinPhone, erinLaptop];

      // Everyone sends at once, from both instances.
      const senders = [carol, dave, erinPhone];
      const acks = await Promise.all(
        senders.map(async (client, s) => {
          const mine = [];
          for (let i = 0; i < 10; i++) mine.push(await client.send(group, `from ${s}: ${i}`));
          return mine;
        }),
      );
      expect(acks.flat().every((ack) => ack.type === 'ack')).toBe(true);

      // Seqs are 1..30 with no gap or repeat; each device holds the messages it did not send.
      const { rows } = await pg.pool.query(
        'SELECT seq::int FROM chat.messages WHERE conversation_id = $1 ORDER BY seq',
        [group],
      );
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      for (const client of [carol, dave, erinPhone])
        await client.until(() => client.messages(group).length === 20);
      // erin's laptop also gets what erin sent from her phone (multi-device sync): all 30.
      await erinLaptop.until(() => erinLaptop.messages(group).length === 30);
      for (const client of devices) {
        const arrivals = client.arrivals.get(group) ?? [];
        expect(new Set(arrivals).size).toBe(arrivals.length);
      }
      expect(carol.messages(group).every((m) => m.senderId !== 'carol')).toBe(true);
      await annotate(
        `group across instances: 30 messages from 3 senders, seq 1..30; held ${devices.map((c) => c.messages(group).length).join('/')} (carol/dave/erin phone/erin laptop), 0 duplicate arrivals`,
      );
      for (const client of devices) await client.close();
    });
  });

  test('a resend after a lost ack creates no duplicate, on the same or another instance', async ({
    pg,
    redis,
    annotate,
  }) => {
    await withTwoGateways(gatewayEnv(pg, redis), async (a, b) => {
      const aliceToken = await tokenFor(a.url, 'alice');
      const conversation = await openDirect(a.url, aliceToken, 'bob');
      const bob = await ChatClient.connect(b.wsUrl, await tokenFor(b.url, 'bob'));

      // The ack is "lost": the client drops the connection right after sending and never reads it.
      const first = await ChatClient.connect(a.wsUrl, aliceToken);
      const clientMsgId = randomUUID();
      first.frame({ type: 'send', conversationId: conversation, clientMsgId, text: 'once' });
      await bob.until(() => bob.messages(conversation).length === 1);
      first.terminate();

      // Resent from a new connection on the other instance, twice, and concurrently from both.
      const second = await ChatClient.connect(b.wsUrl, await tokenFor(b.url, 'alice', 'laptop'));
      const retry = await second.send(conversation, 'once', clientMsgId);
      const third = await ChatClient.connect(a.wsUrl, await tokenFor(a.url, 'alice', 'tablet'));
      const [again, concurrent] = await Promise.all([
        second.send(conversation, 'once', clientMsgId),
        third.send(conversation, 'once', clientMsgId),
      ]);
      for (const ack of [retry, again, concurrent]) {
        expect(ack).toMatchObject({ type: 'ack', seq: 1, duplicate: true, clientMsgId });
      }
      // Neither the row nor the seq was taken twice: the next message is seq 2.
      expect(await second.send(conversation, 'next')).toMatchObject({
        type: 'ack',
        seq: 2,
        duplicate: false,
      });
      const { rows } = await pg.pool.query(
        'SELECT client_msg_id, seq::int FROM chat.messages WHERE conversation_id = $1 ORDER BY seq',
        [conversation],
      );
      expect(rows).toEqual([
        { client_msg_id: clientMsgId, seq: 1 },
        { client_msg_id: expect.any(String), seq: 2 },
      ]);
      // bob may get the retried copy again (at-least-once) but holds it once, by seq.
      await bob.until(() => bob.messages(conversation).length === 2);
      expect(bob.messages(conversation).map((m) => m.seq)).toEqual([1, 2]);

      // Another sender cannot claim that clientMsgId in the conversation.
      expect(await bob.send(conversation, 'mine?', clientMsgId)).toMatchObject({
        type: 'error',
        code: 'client_msg_id_taken',
      });
      await annotate(
        'lost ack: 3 resends (other instance, then two at once) all acked seq 1 duplicate=true; 1 row; next message seq 2',
      );
      for (const client of [bob, second, third]) await client.close();
    });
  });

  test('an oversized or malformed frame gets an error frame and the connection stays healthy', async ({
    pg,
    redis,
    annotate,
  }) => {
    const a = await startGateway(
      gatewayEnv(pg, redis, { MAX_FRAME_BYTES: '1024', MAX_MESSAGE_CHARS: '100' }),
    );
    try {
      const token = await tokenFor(a.url, 'alice');
      const conversation = await openDirect(a.url, token, 'bob');
      const alice = await ChatClient.connect(a.wsUrl, token);
      const cases: [string | Buffer | Record<string, unknown>, string, string?][] = [
        [
          JSON.stringify({
            v: 1,
            type: 'send',
            conversationId: conversation,
            clientMsgId: 'big',
            text: 'x'.repeat(4000),
          }),
          'frame_too_large',
        ],
        ['{"v":1,"type":"send",', 'malformed'],
        [Buffer.from([1, 2, 3]), 'malformed'],
        [{ v: 9, type: 'ping' }, 'unsupported_version', '/v'],
        [{ v: 1, type: 'shout' }, 'invalid_frame', '/type'],
        [
          { v: 1, type: 'send', conversationId: conversation, clientMsgId: 'long', text: 'y'.repeat(101) },
          'invalid_frame',
          '/text',
        ],
        [
          { v: 1, type: 'send', conversationId: 'not-a-uuid', clientMsgId: 'c', text: 'z' },
          'invalid_frame',
          '/conversationId',
        ],
        [
          { v: 1, type: 'send', conversationId: randomUUID(), clientMsgId: 'stranger', text: 'z' },
          'not_a_member',
        ],
      ];
      for (const [frame, code, field] of cases) {
        const from = alice.frames.length;
        if (Buffer.isBuffer(frame)) alice.raw(frame, { binary: true });
        else alice.raw(typeof frame === 'string' ? frame : JSON.stringify(frame));
        const error = await alice.waitFor((f) => f.type === 'error', from);
        expect(error, JSON.stringify(frame).slice(0, 80)).toMatchObject({
          code,
          ...(field ? { field } : {}),
        });
      }
      // Still the same healthy connection: pings answer, a valid send is stored.
      alice.frame({ type: 'ping', id: 'still-there' });
      expect(await alice.waitFor((f) => f.type === 'pong')).toMatchObject({ id: 'still-there' });
      expect(await alice.send(conversation, 'fine')).toMatchObject({ type: 'ack', seq: 1 });
      expect(alice.isOpen).toBe(true);
      await annotate(
        `bad frames: ${cases.length} kinds answered with error frames; then pong and ack seq 1 on the same socket`,
      );
      await alice.close();
    } finally {
      await a.close();
    }
  });

  test('a flood from one connection is throttled without affecting others', async ({
    pg,
    redis,
    annotate,
  }) => {
    const capacity = 5;
    const refillPerS = 0.2;
    const env = gatewayEnv(pg, redis, {
      SEND_RATE_CAPACITY: String(capacity),
      SEND_RATE_REFILL_PER_S: String(refillPerS),
      // Every decision from Redis: on a loaded machine the library's 200 ms breaker timeout could
      // hand some to its in-memory fallback, a second bucket that this bound does not count.
      RATE_LIMIT_TIMEOUT_MS: '5000',
    });
    await withTwoGateways(env, async (a, b) => {
      const floodToken = await tokenFor(a.url, 'flooder');
      const conversation = await openDirect(a.url, floodToken, 'calm');
      const other = await openDirect(a.url, await tokenFor(a.url, 'quiet'), 'calm');
      const flooder = await ChatClient.connect(a.wsUrl, floodToken);
      const calm = await ChatClient.connect(b.wsUrl, await tokenFor(b.url, 'calm'));
      const quiet = await ChatClient.connect(a.wsUrl, await tokenFor(a.url, 'quiet'));

      const started = performance.now();
      const flood = Array.from({ length: 60 }, (_, i) => flooder.send(conversation, `flood ${i}`));
      // Meanwhile, others on both instances send their few messages.
      const others = await Promise.all([
        ...Array.from({ length: 3 }, (_, i) => calm.send(conversation, `calm ${i}`)),
        ...Array.from({ length: 3 }, (_, i) => quiet.send(other, `quiet ${i}`)),
      ]);
      const results = await Promise.all(flood);
      const elapsedS = (performance.now() - started) / 1000;

      expect(others.every((r) => r.type === 'ack')).toBe(true);
      const acked = results.filter((r) => r.type === 'ack').length;
      const limited = results.filter((r) => r.type === 'error' && r.code === 'rate_limited');
      expect(acked + limited.length).toBe(60);
      // The bucket's capacity plus what refilled while the flood lasted, nothing more.
      expect(acked).toBeGreaterThanOrEqual(capacity);
      expect(acked).toBeLessThanOrEqual(capacity + Math.ceil(elapsedS * refillPerS));
      expect(limited[0]).toMatchObject({ retryAfterMs: expect.any(Number) });
      const { rows } = await pg.pool.query(
        "SELECT count(*)::int AS n FROM chat.messages WHERE sender_id = 'flooder'",
      );
      expect(rows[0].n).toBe(acked);
      // The decision came from @sdlab/rate-limit (its metrics are on the gateway's registry).
      const metrics = await a.app.kit.metrics.getSingleMetricAsString('sdlab_ratelimit_decisions_total');
      expect(metrics).toMatch(/rule="chat-send",outcome="denied"/);
      // The flooder's connection is still usable after the limit.
      expect(flooder.isOpen).toBe(true);
      await annotate(
        `flood: 60 sends in ${elapsedS.toFixed(2)} s -> ${acked} acked, ${limited.length} rate_limited (bucket 5, +0.2/s); 6/6 sends of two other users acked`,
      );
      for (const client of [flooder, calm, quiet]) await client.close();
    });
  });

  test('a device that connects again replaces its older socket (4009); devices per user are bounded (4003)', async ({
    pg,
    redis,
  }) => {
    const env = gatewayEnv(pg, redis, { MAX_DEVICES_PER_USER: '2' });
    await withTwoGateways(env, async (a, b) => {
      const phone = await tokenFor(a.url, 'alice', 'phone');
      const old = await ChatClient.connect(a.wsUrl, phone);
      const fresh = await ChatClient.connect(b.wsUrl, phone);
      expect(await old.closed).toMatchObject({ code: 4009 });
      expect(fresh.isOpen).toBe(true);
      const entries = await redis.client.hgetall(redis.key('sessions:{alice}'));
      expect(Object.keys(entries)).toEqual(['phone']);
      expect(entries.phone).toContain(`${fresh.hello!.instanceId}|${fresh.hello!.connectionId}|`);

      const laptop = await ChatClient.connect(a.wsUrl, await tokenFor(a.url, 'alice', 'laptop'));
      // A third device is refused after the handshake, with a close code the client can show.
      const tablet = await tokenFor(b.url, 'alice', 'tablet');
      const code = await ChatClient.outcome(b.wsUrl, tablet);
      expect(code).toBe(4003);

      const presence = await api<{ users: { userId: string; online: boolean; devices: number }[] }>(
        a.url,
        phone,
        'GET',
        '/presence?userIds=alice,nobody',
      );
      expect(presence.body.users).toEqual([
        { userId: 'alice', online: true, devices: 2, lastSeenAt: expect.any(String) },
        { userId: 'nobody', online: false, devices: 0, lastSeenAt: null },
      ]);
      await laptop.close();
      await fresh.close();
      // Both sockets released their entries: offline, with a last-seen time.
      await expect
        .poll(
          async () =>
            (await api<{ users: { online: boolean }[] }>(a.url, phone, 'GET', '/presence?userIds=alice')).body
              .users[0]?.online,
        )
        .toBe(false);
    });
  });
});
