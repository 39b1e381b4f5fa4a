import { test } from '@sdlab/testkit';
import { describe, expect } from 'vitest';
import type { Message } from '../src/schemas/frames.ts';
import { api, openDirect, tokenFor } from './support/api.ts';
import { withTwoGateways } from './support/app.ts';
import { ChatClient } from './support/chat-client.ts';
import { gatewayEnv } from './support/env.ts';

describe('offline and reconnect', () => {
  test('a user offline during 500 messages reconnects and receives all 500 in order, none twice', async ({
    pg,
    redis,
    annotate,
  }) => {
    // Pages of 120 so the catch-up needs several cursors; the sender's budget fits 550 sends.
    const env = gatewayEnv(pg, redis, { PAGE_MAX: '120', SEND_RATE_CAPACITY: '1000' });
    await withTwoGateways(env, async (a, b) => {
      const aliceToken = await tokenFor(a.url, 'alice');
      const bobToken = await tokenFor(b.url, 'bob');
      const conversation = await openDirect(a.url, aliceToken, 'bob');
      const alice = await ChatClient.connect(a.wsUrl, aliceToken);

      // bob is online for the first 50, live.
      const bobBefore = await ChatClient.connect(b.wsUrl, bobToken);
      for (let i = 1; i <= 50; i++) await alice.send(conversation, `m${i}`);
      await bobBefore.until(() => bobBefore.messages(conversation).length === 50);
      const lastSeen = bobBefore.lastContiguousSeq(conversation);
      expect(lastSeen).toBe(50);
      await bobBefore.close();

      // 500 while bob is offline, sent as fast as alice's connection takes them (pipelined).
      const acks = await Promise.all(
        Array.from({ length: 500 }, (_, i) => alice.send(conversation, `m${51 + i}`)),
      );
      expect(acks.every((ack) => ack.type === 'ack')).toBe(true);

      // bob reconnects (to either instance: this time the other one) and syncs from seq 50.
      const bobAfter = await ChatClient.connect(a.wsUrl, bobToken);
      const pages = await bobAfter.sync(conversation, lastSeen);
      const synced: Message[] = pages.flatMap((page) => page.messages);
      expect(synced).toHaveLength(500);
      expect(synced.map((m) => m.seq)).toEqual(Array.from({ length: 500 }, (_, i) => 51 + i));
      expect(synced.map((m) => m.text)).toEqual(Array.from({ length: 500 }, (_, i) => `m${51 + i}`));
      // Nothing arrived twice on the wire either (no live copy overlapped the catch-up).
      const arrivals = bobAfter.arrivals.get(conversation) ?? [];
      expect(arrivals).toHaveLength(500);
      expect(new Set(arrivals).size).toBe(500);
      expect(pages.map((p) => p.messages.length)).toEqual([120, 120, 120, 120, 20]);
      expect(pages.at(-1)).toMatchObject({ hasMore: false, lastSeq: 550 });

      // The history API walks the same 500 with its cursors.
      const viaRest: number[] = [];
      let after = lastSeen;
      for (;;) {
        const { body } = await api<{ messages: Message[]; next: { afterSeq: number } | null }>(
          b.url,
          bobToken,
          'GET',
          `/conversations/${conversation}/messages?afterSeq=${after}&limit=120`,
        );
        viaRest.push(...body.messages.map((m) => m.seq));
        if (!body.next) break;
        after = body.next.afterSeq;
      }
      expect(viaRest).toEqual(synced.map((m) => m.seq));
      await annotate(
        `offline catch-up: ${synced.length} messages in ${pages.length} sync pages, seq ${synced[0]!.seq}..${synced.at(-1)!.seq}, ${arrivals.length - new Set(arrivals).size} duplicates; REST cursors walked ${viaRest.length}`,
      );
      await alice.close();
      await bobAfter.close();
    });
  });
});
