import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { openDirect, tokenFor } from './support/api.ts';
import { startGateway, withTwoGateways } from './support/app.ts';
import { ChatClient } from './support/chat-client.ts';
import { gatewayEnv } from './support/env.ts';

describe('protection', () => {
  test('a consumer that stays behind is disconnected with 4008 and catches up on reconnect', async ({
    pg,
    redis,
    annotate,
  }) => {
    const gateway = await startGateway(
      gatewayEnv(pg, redis, {
        SEND_HIGH_WATER_BYTES: '16384',
        SEND_QUEUE_MAX: '4',
        CLOSE_GRACE_MS: '30000',
      }),
    );
    try {
      const token = await tokenFor(gateway.url, 'slow');
      const conversation = await openDirect(gateway.url, token, 'fast');
      // 200 stored messages of 4000 characters: each sync answer is a history frame of ~850 KB.
      await pg.pool.query(
        `WITH n AS (SELECT generate_series(1, 200) AS seq)
         INSERT INTO chat.messages (conversation_id, seq, sender_id, client_msg_id, body)
         SELECT $1, seq, 'fast', 'seed-' || seq, repeat('x', 4000) FROM n`,
        [conversation],
      );
      await pg.pool.query('UPDATE chat.conversations SET last_seq = 200 WHERE id = $1', [conversation]);

      const slow = await ChatClient.connect(gateway.wsUrl, token);
      // Stop reading: TCP buffers fill, then the socket's bufferedAmount, then the gateway's queue.
      slow.ws.pause();
      for (let i = 0; i < 60; i++)
        slow.frame({ type: 'sync', conversations: [{ conversationId: conversation, afterSeq: 0 }] });
      // The gateway gives up on it (its queue overflowed) while the client still is not reading.
      await expect
        .poll(() => gateway.app.chat.gateway.connectionsOf('slow')[0]?.closeReason, {
          timeout: 60_000,
          interval: 100,
        })
        .toBe('slow_consumer');
      // Reading again, the client gets what was already on the wire, then the close frame: 4008.
      slow.ws.resume();
      expect(await slow.closed).toMatchObject({ code: 4008 });
      await expect
        .poll(() => gateway.app.kit.metrics.getSingleMetricAsString('sdlab_chat_disconnects_total'))
        .toMatch(/reason="slow_consumer"[^}]*} 1$/m);
      const pagesBeforeClose = slow.framesOf('history').length;

      // It reconnects and catches up at its own pace, page by page.
      const again = await ChatClient.connect(gateway.wsUrl, token);
      const pages = await again.sync(conversation, 0, 50);
      expect(pages.flatMap((p) => p.messages.map((m) => m.seq))).toEqual(
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      await annotate(
        `slow consumer: 60 syncs of ~850 KB asked, ${pagesBeforeClose} history frames reached it before the 4008 close; then caught up 200/200 in ${pages.length} pages`,
      );
      await again.close();
    } finally {
      await gateway.close();
    }
  });

  test('shutdown drains: clients get 1012, reconnect to the other instance and carry on', async ({
    pg,
    redis,
    annotate,
  }) => {
    await withTwoGateways(gatewayEnv(pg, redis), async (a, b) => {
      const aliceToken = await tokenFor(a.url, 'alice');
      const conversation = await openDirect(a.url, aliceToken, 'bob');
      const alice = await ChatClient.connect(a.wsUrl, aliceToken);
      const bob = await ChatClient.connect(b.wsUrl, await tokenFor(b.url, 'bob'));
      expect(await alice.send(conversation, 'before')).toMatchObject({ type: 'ack', seq: 1 });

      const closing = a.close();
      expect(await alice.closed).toMatchObject({ code: 1012 });
      await closing;
      // The drain released alice's registry entry before Redis closed: no stale route to a.
      expect(await redis.client.hget(redis.key('sessions:{alice}'), 'd1')).toBeNull();
      const again = await ChatClient.connect(b.wsUrl, aliceToken);
      await again.sync(conversation, 1);
      expect(await again.send(conversation, 'after')).toMatchObject({ type: 'ack', seq: 2 });
      await bob.until(() => bob.messages(conversation).length === 2);
      await annotate(
        'drain: client closed with 1012, registry entry released, resumed on the other instance at seq 2',
      );
      await again.close();
      await bob.close();
    });
  });

  test('a socket that stops answering pings is cut; one that answers stays', async ({ pg, redis }) => {
    const gateway = await startGateway(gatewayEnv(pg, redis, { HEARTBEAT_INTERVAL_MS: '100' }));
    try {
      const silent = await ChatClient.connect(gateway.wsUrl, await tokenFor(gateway.url, 'silent'), {
        autoPong: false,
      });
      const lively = await ChatClient.connect(gateway.wsUrl, await tokenFor(gateway.url, 'lively'));
      // No close frame: the gateway drops a peer it believes gone (1006 on this side).
      expect(await silent.closed).toMatchObject({ code: 1006 });
      await lively.until(() => lively.pings >= 5);
      expect(lively.isOpen).toBe(true);
      const disconnects = await gateway.app.kit.metrics.getSingleMetricAsString(
        'sdlab_chat_disconnects_total',
      );
      expect(disconnects).toMatch(/reason="ping_timeout"[^}]*} 1$/m);
      // The heartbeat refreshed lively's entry with its connection; silent's was released.
      expect(await redis.client.hget(redis.key('sessions:{lively}'), 'd1')).toContain(
        lively.hello!.connectionId,
      );
      await expect.poll(() => redis.client.hget(redis.key('sessions:{silent}'), 'd1')).toBeNull();
      await lively.close();
    } finally {
      await gateway.close();
    }
  });

  test('upgrades without a valid token are refused before the handshake', async ({ pg, redis }) => {
    const gateway = await startGateway(gatewayEnv(pg, redis));
    try {
      expect(await ChatClient.refusal(gateway.wsUrl)).toBe(401);
      expect(await ChatClient.refusal(gateway.wsUrl, 'not.a.jwt')).toBe(401);
      const forged = await tokenFor(gateway.url, 'mallory');
      expect(await ChatClient.refusal(gateway.wsUrl, `${forged.slice(0, -4)}AAAA`)).toBe(401);
      expect(await ChatClient.refusal(gateway.wsUrl.replace('/ws', '/elsewhere'), forged)).toBe(404);
    } finally {
      await gateway.close();
    }
  });
});
