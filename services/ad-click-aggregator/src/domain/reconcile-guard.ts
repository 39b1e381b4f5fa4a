import type pg from 'pg';
import { AdClickErrors } from '../errors.ts';
import { ceilTo, floorTo } from './granularity.ts';
import { rawPartitions } from './raw-partitions.ts';

// A reconciliation overwrites stored counts with a recount of the raw clicks. Where the raw clicks
// are gone (partitions past retention are dropped; the roll-ups stay), a recount finds nothing and
// would "correct" every window to 0 — valid counts destroyed for good. So a period is reconciled
// only where raw data can exist, and "no raw data" means "cannot reconcile", never "zero clicks".

/** First day (UTC ms) of the oldest raw click partition, or null when there is none. */
export async function oldestRawDay(pool: pg.Pool): Promise<number | null> {
  const days = (await rawPartitions(pool)).map((p) => p.day);
  return days.length ? Math.min(...days) : null;
}

/**
 * Throws CannotReconcile unless [from, to) — widened to whole days, as the day roll-up is — lies
 * after the oldest raw partition's start, and has raw clicks wherever it has stored counts.
 */
export async function assertReconcilable(pool: pg.Pool, period: { from: number; to: number }): Promise<void> {
  const from = floorTo(period.from, 'day');
  const to = ceilTo(period.to, 'day');
  const oldest = await oldestRawDay(pool);
  if (oldest === null || from < oldest) {
    throw new AdClickErrors.CannotReconcile(
      oldest === null
        ? 'there are no raw clicks at all'
        : `raw clicks before ${new Date(oldest).toISOString()} were dropped (retention); the stored counts are all that is left`,
    );
  }
  const { rows } = await pool.query<{ raw: boolean; stored: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM adclick.raw_clicks WHERE clicked_at >= $1 AND clicked_at < $2) AS raw,
            EXISTS (SELECT 1 FROM adclick.clicks_day WHERE window_start >= $1 AND window_start < $2 AND clicks > 0) AS stored`,
    [new Date(from).toISOString(), new Date(to).toISOString()],
  );
  if (!rows[0]!.raw && rows[0]!.stored) {
    throw new AdClickErrors.CannotReconcile('the period has stored counts but no raw clicks to recount');
  }
}
