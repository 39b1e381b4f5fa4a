import { test } from '@sdlab/testkit';
import { QueueEvents } from 'bullmq';
import { describe, expect } from 'vitest';
import { RETENTION_QUEUE } from '../src/domain/retention.ts';
import { buildApp } from '../src/main.ts';
import { gatewayEnv } from './support/env.ts';

describe('retention (BullMQ job)', () => {
  test('deletes messages older than RETENTION_DAYS in batches and keeps the rest', async ({ pg, redis }) => {
    const { app } = await buildApp(
      gatewayEnv(pg, redis, {
        RETENTION_ENABLED: 'true',
        RETENTION_DAYS: '30',
        RETENTION_BATCH: '7',
        RETENTION_EVERY_MS: '86400000',
      }),
    );
    const events = new QueueEvents(RETENTION_QUEUE, {
      connection: { url: redis.url, maxRetriesPerRequest: null },
      prefix: app.keys.bullPrefix,
    });
    try {
      const { conversation } = await app.chat.repository.openDirect('alice', 'bob');
      // 20 messages from 31 days ago, 5 from today.
      await pg.pool.query(
        `INSERT INTO chat.messages (conversation_id, seq, sender_id, client_msg_id, body, created_at)
         SELECT $1, s, 'alice', 'c' || s, 'text', CASE WHEN s <= 20 THEN now() - interval '31 days' ELSE now() END
         FROM generate_series(1, 25) s`,
        [conversation.id],
      );
      await pg.pool.query('UPDATE chat.conversations SET last_seq = 25 WHERE id = $1', [conversation.id]);

      await events.waitUntilReady();
      const job = await app.chat.retention!.queue.add('sweep', {});
      await job.waitUntilFinished(events, 30_000);

      const { rows } = await pg.pool.query('SELECT seq::int FROM chat.messages ORDER BY seq');
      expect(rows.map((r) => r.seq)).toEqual([21, 22, 23, 24, 25]);
      // The scheduler may have run its first sweep as well: together they deleted exactly 20.
      expect(await app.kit.metrics.getSingleMetricAsString('sdlab_chat_retention_deleted_total')).toMatch(
        /} 20$/m,
      );
      const schedulers = await app.chat.retention!.queue.getJobSchedulers();
      expect(schedulers.map((s) => s.key)).toContain('retention-sweep');
      // A client syncing from before the window sees the first retained seq (the gap expired).
      const page = await app.chat.repository.page(conversation.id, 'bob', { afterSeq: 0 }, 10);
      expect(page).toMatchObject({ lastSeq: 25, hasMore: false, messages: [{ seq: 21 }, {}, {}, {}, {}] });
    } finally {
      await events.close();
      await app.close();
    }
  });
});
