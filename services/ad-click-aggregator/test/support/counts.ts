import type pg from 'pg';

/** Stored counts of a roll-up, keyed `adId|ISO window start`. */
export async function storedCounts(
  pool: pg.Pool,
  table: 'minute' | 'hour' | 'day',
): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ ad_id: string; window_start: Date; clicks: string }>(
    `SELECT ad_id, window_start, clicks::text FROM adclick.clicks_${table} WHERE clicks > 0`,
  );
  return new Map(rows.map((r) => [`${r.ad_id}|${r.window_start.toISOString()}`, Number(r.clicks)]));
}

export function increment(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** Rolls a minute-keyed map up to hours or days. */
export function rollUp(minutes: Map<string, number>, unitMs: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, n] of minutes) {
    const [ad, iso] = key.split('|') as [string, string];
    const t = Date.parse(iso);
    increment(out, `${ad}|${new Date(t - (t % unitMs)).toISOString()}`, n);
  }
  return out;
}

export const sorted = (m: Map<string, number>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
