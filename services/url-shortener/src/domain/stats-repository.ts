import { withClient } from '@sdlab/service-kit/postgres';
import type pg from 'pg';
import type { ClickEvent, ClickTally } from './clicks.ts';

export interface OffsetEvent {
  /** Kafka offset of the message, as kafkajs gives it (a decimal string). */
  offset: string;
  /** One click, or one link's clicks of a message (what the consumer reads). */
  event: ClickEvent | ClickTally;
}

export interface LinkTotals {
  count: number;
  lastAt: number;
}

export interface AppliedBatch {
  /** Clicks counted now. */
  applied: number;
  /** Clicks at offsets already counted before (a redelivery after a crash or rebalance). */
  duplicates: number;
  /** Per-link rows written: one per link in the batch, never one per click. */
  linksUpdated: number;
}

/** Clicks per link in a batch: a thousand redirects of one link become one row update. */
export function totalsByLink(events: readonly (ClickEvent | ClickTally)[]): Map<string, LinkTotals> {
  const totals = new Map<string, LinkTotals>();
  for (const event of events) {
    const { count, lastAt } = 'count' in event ? event : { count: 1, lastAt: event.at };
    const current = totals.get(event.code);
    if (current) {
      current.count += count;
      if (lastAt > current.lastAt) current.lastAt = lastAt;
    } else {
      totals.set(event.code, { count, lastAt });
    }
  }
  return totals;
}

/** Clicks in a list of events (a tally holds many). */
export function clickCount(events: readonly OffsetEvent[]): number {
  let n = 0;
  for (const { event } of events) n += 'count' in event ? event.count : 1;
  return n;
}

// Counts only links that still exist: a click on a link the sweep has just deleted is dropped
// instead of resurrecting an orphan stats row.
const ADD_TOTALS = `INSERT INTO shortener.link_stats (code, total_clicks, last_click_at)
  SELECT u.code, u.n, u.last_at
    FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS u(code, n, last_at)
   WHERE EXISTS (SELECT 1 FROM shortener.links l WHERE l.code = u.code)
  ON CONFLICT (code) DO UPDATE
    SET total_clicks = shortener.link_stats.total_clicks + EXCLUDED.total_clicks,
        last_click_at = GREATEST(shortener.link_stats.last_click_at, EXCLUDED.last_click_at)`;

/**
 * Applies one partition's batch of click events to the per-link totals, exactly once: the
 * partition's next offset is stored in the same transaction as the totals, and events below it
 * are skipped. Kafka delivers at least once (a crash between this commit and the consumer's offset
 * commit replays the batch); this turns that into an exactly-once effect on the counts.
 */
export async function applyClickBatch(
  pool: pg.Pool,
  topic: string,
  partition: number,
  events: readonly OffsetEvent[],
): Promise<AppliedBatch> {
  if (events.length === 0) return { applied: 0, duplicates: 0, linksUpdated: 0 };
  return withClient(pool, async (client) => {
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO shortener.stats_offsets (topic, partition, next_offset) VALUES ($1, $2, 0)
         ON CONFLICT DO NOTHING`,
        [topic, partition],
      );
      // The row lock also serialises two consumers briefly owning one partition during a rebalance.
      const { rows } = await client.query<{ next_offset: string }>(
        'SELECT next_offset FROM shortener.stats_offsets WHERE topic = $1 AND partition = $2 FOR UPDATE',
        [topic, partition],
      );
      const from = BigInt(rows[0]!.next_offset);
      const fresh = events.filter((e) => BigInt(e.offset) >= from);
      const totals = totalsByLink(fresh.map((e) => e.event));
      if (totals.size > 0) {
        const codes = [...totals.keys()];
        await client.query(ADD_TOTALS, [
          codes,
          codes.map((c) => totals.get(c)!.count),
          codes.map((c) => new Date(totals.get(c)!.lastAt)),
        ]);
        const last = events.reduce((max, e) => (BigInt(e.offset) > max ? BigInt(e.offset) : max), from - 1n);
        await client.query(
          'UPDATE shortener.stats_offsets SET next_offset = $3 WHERE topic = $1 AND partition = $2',
          [topic, partition, (last + 1n).toString()],
        );
      }
      await client.query('COMMIT');
      const applied = clickCount(fresh);
      return { applied, duplicates: clickCount(events) - applied, linksUpdated: totals.size };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
}
