import type pg from 'pg';
import { type Granularity, TABLE } from './granularity.ts';

export interface Bucket {
  start: number;
  clicks: number;
}

/** Reads of the roll-ups. Each range query is one index range scan on (ad_id, window_start). */
export function createClickQueries(pool: pg.Pool, options: { topic: string; latenessMs: number }) {
  return {
    async clicksForAd(adId: string, g: Granularity, from: number, to: number): Promise<Bucket[]> {
      const { rows } = await pool.query<{ window_start: Date; clicks: number }>(
        `SELECT window_start, clicks FROM ${TABLE[g]}
         WHERE ad_id = $1 AND window_start >= $2 AND window_start < $3 AND clicks > 0
         ORDER BY window_start`,
        [adId, new Date(from).toISOString(), new Date(to).toISOString()],
      );
      return rows.map((r) => ({ start: r.window_start.getTime(), clicks: r.clicks }));
    },

    /**
     * Windows ending at or before this time are final: every partition's watermark has passed
     * them, so no later event can change them (null until every partition has been consumed).
     * An idle partition holds this back, the usual cost of per-partition watermarks.
     */
    async finalBefore(): Promise<number | null> {
      const { rows } = await pool.query<{ min: Date | null; missing: boolean }>(
        `SELECT min(max_event_time) AS min, bool_or(max_event_time IS NULL) AS missing
         FROM adclick.consumer_offsets WHERE topic = $1`,
        [options.topic],
      );
      const row = rows[0];
      if (!row?.min || row.missing) return null;
      return row.min.getTime() - options.latenessMs;
    },
  };
}
export type ClickQueries = ReturnType<typeof createClickQueries>;
