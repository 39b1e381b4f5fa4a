import { waitFor } from '@sdlab/testkit';
import type { Admin } from 'kafkajs';
import type pg from 'pg';

/** Messages in the topic: the sum of its partitions' high watermarks (offsets start at 0 here). */
export async function topicEnd(admin: Admin, topic: string): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((n, o) => n + Number(o.high), 0);
}

/** Offsets stored with the counts, summed over partitions. */
export async function committedTotal(pool: pg.Pool): Promise<number> {
  const { rows } = await pool
    .query<{ total: string | null }>('SELECT sum(next_offset)::text AS total FROM adclick.consumer_offsets')
    .catch(() => ({ rows: [{ total: null }] }));
  return Number(rows[0]?.total ?? 0);
}

/** Waits until the aggregator has stored offsets for everything in the topic. */
export async function waitAllCommitted(pool: pg.Pool, admin: Admin, topic: string, timeoutMs = 120_000) {
  const end = await topicEnd(admin, topic);
  await waitFor(
    `offsets committed up to ${end}`,
    async () => (await committedTotal(pool)) === end,
    timeoutMs,
  );
  return end;
}
