import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { api, openDirect, tokenFor } from './support/api.ts';
import { startGateway } from './support/app.ts';
import { ChatClient } from './support/chat-client.ts';
import { gatewayEnv } from './support/env.ts';

// Frames an attacker with a valid token can send, and what they must not be able to do with them:
// grow the gateway's memory, read history for free, stay connected without reading, or make a
// write fail in a way the client retries forever.

async function seed(pg: { pool: import('pg').Pool }, conversation: string, count: number, chars: number) {
  await pg.pool.query(
    `WITH n AS (SELECT generate_series(1, $2::int) AS seq)
     INSERT INTO chat.messages (conversation_id, seq, sender_id, client_msg_id, body)
     SELECT $1, seq, 'peer', 'seed-' || seq, repeat('x', $3::int) FROM n`,
    [conversation, count, chars],
  );
  await pg.pool.query('UPDATE chat.conversations SET last_seq = $2 WHERE id = $1', [conversation, count]);
}

describe('chat gateway under hostile clients', () => {
  test('a reader that never reads is cut by bytes queued, not after thousands of frames', async ({
    pg,
    redis,
  }) => {
    const gateway = await startGateway(
      gatewayEnv(pg, redis, {
        SEND_HIGH_WATER_BYTES: '16384',
        // Far more frames than it will ever queue: only the byte cap can stop it.
        SEND_QUEUE_MAX: '100000',
        SEND_QUEUE_MAX_BYTES: '524288',
        SEND_RATE_CAPACITY: '100000',
        CLOSE_GRACE_MS: '30000',
      }),
    );
    try {
      const token = await tokenFor(gateway.url, 'hoarder');
      const conversation = await openDirect(gateway.url, token, 'peer');
      await seed(pg, conversation, 200, 4000);
      const client = await ChatClient.connect(gateway.wsUrl, token);
      client.ws.pause();
      // ~80 history frames of at most 256 KB: ~20 MB, more than loopback TCP buffers absorb.
      for (let i = 0; i < 80; i++)
        client.frame({ type: 'sync', conversations: [{ conversationId: conversation, afterSeq: 0 }] });
      await expect
        .poll(() => gateway.app.chat.gateway.connectionsOf('hoarder')[0]?.closeReason, {
          timeout: 30_000,
          interval: 100,
        })
        .toBe('slow_consumer');
      // Every queued frame was dropped with the socket: nothing of it stays in the gateway.
      expect(gateway.app.chat.gateway.stats().queuedFrames).toBe(0);
      client.ws.resume();
      expect(await client.closed).toMatchObject({ code: 4008 });
    } finally {
      await gateway.close();
    }
  });

  test('history frames are capped in bytes and the page says there is more', async ({ pg, redis }) => {
    const gateway = await startGateway(gatewayEnv(pg, redis, { HISTORY_FRAME_MAX_BYTES: '65536' }));
    try {
      const token = await tokenFor(gateway.url, 'reader');
      const conversation = await openDirect(gateway.url, token, 'peer');
      await seed(pg, conversation, 200, 4000);
      const client = await ChatClient.connect(gateway.wsUrl, token);
      const pages = await client.sync(conversation, 0);
      for (const page of pages) {
        expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(65536 + 4096);
      }
      expect(pages.length).toBeGreaterThan(1);
      expect(pages.flatMap((p) => p.messages.map((m) => m.seq))).toEqual(
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      await client.close();
    } finally {
      await gateway.close();
    }
  });

  test('a sync frame names each conversation once, and its pages are charged to the rate limit', async ({
    pg,
    redis,
  }) => {
    const gateway = await startGateway(
      gatewayEnv(pg, redis, { SEND_RATE_CAPACITY: '5', SEND_RATE_REFILL_PER_S: '0.01' }),
    );
    try {
      const token = await tokenFor(gateway.url, 'greedy');
      const conversation = await openDirect(gateway.url, token, 'peer');
      await seed(pg, conversation, 3, 10);
      const client = await ChatClient.connect(gateway.wsUrl, token);

      client.frame({
        type: 'sync',
        conversations: Array.from({ length: 50 }, () => ({ conversationId: conversation, afterSeq: 0 })),
      });
      const refused = await client.waitFor((f) => f.type === 'error');
      expect(refused).toMatchObject({ code: 'invalid_frame', field: '/conversations' });
      expect(client.framesOf('history')).toHaveLength(0);

      for (let i = 0; i < 8; i++)
        client.frame({ type: 'sync', conversations: [{ conversationId: conversation, afterSeq: 0 }] });
      const limited = await client.waitFor((f) => f.type === 'error' && f.code === 'rate_limited');
      expect(limited).toMatchObject({ ref: conversation });
      await client.until(
        () => client.framesOf('error').filter((f) => f.code === 'rate_limited').length === 3,
      );
      expect(client.framesOf('history')).toHaveLength(5);
      await client.close();
    } finally {
      await gateway.close();
    }
  });

  test('frames without pongs do not keep a socket alive', async ({ pg, redis }) => {
    const gateway = await startGateway(
      gatewayEnv(pg, redis, { HEARTBEAT_INTERVAL_MS: '100', SEND_RATE_CAPACITY: '100000' }),
    );
    try {
      const chatty = await ChatClient.connect(gateway.wsUrl, await tokenFor(gateway.url, 'chatty'), {
        autoPong: false,
      });
      // Application-level pings every 20 ms: frames, but never a pong to the gateway's pings.
      const timer = setInterval(() => {
        if (chatty.isOpen) chatty.frame({ type: 'ping' });
      }, 20);
      try {
        expect(await chatty.closed).toMatchObject({ code: 1006 });
      } finally {
        clearInterval(timer);
      }
      await expect
        .poll(() => gateway.app.kit.metrics.getSingleMetricAsString('sdlab_chat_disconnects_total'))
        .toMatch(/reason="ping_timeout"[^}]*} 1$/m);
    } finally {
      await gateway.close();
    }
  });

  test('NUL in text is a validation error (error frame, REST 400), not an outage to retry', async ({
    pg,
    redis,
  }) => {
    const gateway = await startGateway(gatewayEnv(pg, redis));
    try {
      const token = await tokenFor(gateway.url, 'nul');
      const conversation = await openDirect(gateway.url, token, 'peer');
      const client = await ChatClient.connect(gateway.wsUrl, token);
      const answer = await client.send(conversation, 'before\u0000after');
      expect(answer).toMatchObject({ type: 'error', code: 'invalid_frame', field: '/text' });
      expect(answer).not.toHaveProperty('retryAfterMs');
      await client.close();

      const group = await api<{ code?: string }>(gateway.url, token, 'POST', '/conversations/groups', {
        title: 'team\u0000',
        memberIds: ['peer'],
      });
      expect(group.status).toBe(400);
      expect(group.body.code).toBe('SDLAB_KIT_NUL_CHARACTER');
    } finally {
      await gateway.close();
    }
  });
});
