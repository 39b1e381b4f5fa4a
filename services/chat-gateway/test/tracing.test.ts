import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import { openDirect, tokenFor } from './support/api.ts';
import { ChatClient } from './support/chat-client.ts';
import { gatewayEnv } from './support/env.ts';
import { spawnGateway } from './support/processes.ts';

type Gateway = Awaited<ReturnType<typeof spawnGateway>>;
interface Pair {
  a: Gateway;
  b: Gateway;
  alice: ChatClient;
  bob: ChatClient;
  conversation: string;
}

/** Two gateways logging their spans, alice on the first and bob on the second, in one direct conversation. */
async function withTwoGateways(
  pg: Parameters<typeof gatewayEnv>[0],
  redis: Parameters<typeof gatewayEnv>[1],
  fn: (pair: Pair) => Promise<void>,
): Promise<void> {
  const env = gatewayEnv(pg, redis, { LOG_LEVEL: 'warn' });
  const a = await spawnGateway(env, { spanLog: true });
  const b = await spawnGateway(env, { spanLog: true });
  try {
    const aliceToken = await tokenFor(a.url, 'alice');
    const conversation = await openDirect(a.url, aliceToken, 'bob');
    const alice = await ChatClient.connect(a.wsUrl, aliceToken);
    const bob = await ChatClient.connect(b.wsUrl, await tokenFor(b.url, 'bob'));
    await fn({ a, b, alice, bob, conversation });
    await alice.close();
    await bob.close();
  } finally {
    await a.kill('SIGKILL');
    await b.kill('SIGKILL');
  }
}

// Both gateways run as real processes with the real SDK; only the exporter writes to stdout.
describe('tracing across the pub/sub hop', () => {
  test('chat.deliver on the recipient instance continues the sender trace of chat.send', async ({
    pg,
    redis,
  }) => {
    await withTwoGateways(pg, redis, async ({ a, b, alice, bob, conversation }) => {
      expect(await alice.send(conversation, 'traced')).toMatchObject({ type: 'ack', seq: 1 });
      await bob.until(() => bob.messages(conversation).length === 1);

      const send = await expect
        .poll(() => a.spans().find((s) => s.span === 'chat.send'))
        .toBeDefined()
        .then(() => a.spans().find((s) => s.span === 'chat.send')!);
      expect(send.attributes).toMatchObject({
        'sdlab.chat.conversation_id': conversation,
        'sdlab.chat.seq': 1,
      });
      const children = a
        .spans()
        .filter((s) => s.parentSpanId === send.spanId)
        .map((s) => s.span);
      // In order: the rate limit (EVALSHA), the one statement that allocates the seq and stores
      // the message (chat.append_message), the registry lookup of both members (one pipeline of
      // HGETALLs, one span), the PUBLISH to bob's instance (one pipeline, one span).
      expect(
        children
          .filter((name) => !name.startsWith('pg-pool'))
          .map((name) => (name.startsWith('redis ') ? name : name.split(' ')[0])),
      ).toEqual(['evalsha', 'pg.query:SELECT', 'redis locate', 'redis publish']);
      const locate = a.spans().find((s) => s.parentSpanId === send.spanId && s.span === 'redis locate')!;
      expect(locate.attributes).toMatchObject({ 'db.operation.batch.size': 2 });
      // One span per Redis command: the kit's context wrapper used to be patched over by the
      // instrumentation's second patch of ioredis, which traced every command twice.
      expect(a.spans().filter((s) => s.traceId === send.traceId && s.span === 'evalsha')).toHaveLength(1);
      // No span per command of a pipeline: a routing flush under load reads hundreds of users.
      expect(
        a.spans().filter((s) => s.traceId === send.traceId && /^(hgetall|publish)$/.test(s.span)),
      ).toEqual([]);

      await expect.poll(() => b.spans().some((s) => s.span === 'chat.deliver')).toBe(true);
      const deliver = b.spans().find((s) => s.span === 'chat.deliver')!;
      expect(deliver.traceId).toBe(send.traceId);
      expect(deliver.parentSpanId).toBe(send.spanId);
      expect(deliver.attributes).toMatchObject({ 'sdlab.chat.sockets': 1 });
    });
  });

  test('a frame routed without a sampled trace (typing) starts no trace on the recipient instance', async ({
    pg,
    redis,
  }) => {
    await withTwoGateways(pg, redis, async ({ a, b, alice, bob, conversation }) => {
      for (const state of ['start', 'stop', 'start'] as const) {
        alice.frame({ type: 'typing', conversationId: conversation, state });
        expect(await bob.waitFor((f) => f.type === 'typing' && f.state === state)).toMatchObject({
          conversationId: conversation,
        });
      }
      // Then a traced send, so the recipient has exported what it was going to by the time we look.
      expect(await alice.send(conversation, 'after typing')).toMatchObject({ type: 'ack' });
      await expect.poll(() => b.spans().some((s) => s.span === 'chat.deliver')).toBe(true);
      // The one delivery traced is the send's, in the sender's trace; typing made no root of its own.
      const deliveries = b.spans().filter((s) => s.span === 'chat.deliver');
      expect(deliveries).toHaveLength(1);
      const send = a.spans().find((s) => s.span === 'chat.send')!;
      expect(deliveries[0]!.traceId).toBe(send.traceId);
    });
  });
});
