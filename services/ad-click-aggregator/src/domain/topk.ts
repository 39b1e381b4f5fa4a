import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Keys } from '../keys.ts';
import { updateTopK } from '../scripts/index.ts';
import { type Granularity, TABLE } from './granularity.ts';

// Top-K per window in Redis sorted sets (member: ad id, score: its count in the window).
//
// Postgres holds every window's exact counts; a sorted set is a ranking cache of one window:
// - The first query for a window seeds it from Postgres with the window's top SEED_SIZE ads.
// - After each committed flush the aggregator raises the scores of the ads it just counted
//   (absolute totals, ZADD GT, only if the set exists: see updateTopK-1.lua).
// Error: an ad outside the seeded top SEED_SIZE enters the set the next time it is counted, and
// only ads that were counted can overtake; so for K ≤ SEED_SIZE the top K is exact except for
// (a) the window between a flush's commit and its Redis update (milliseconds), and (b) a flush
// that committed while its set was being seeded, whose update can be missed until that ad is
// counted again (the query's `source: "postgres"` option reads the exact ranking).
// A count-min sketch would bound memory per window instead, at the price of over-counting
// (ε·N with probability 1−δ); with exact counts already in Postgres it would add error for no gain.

export const SEED_SIZE = 1000;

export interface RankedAd {
  adId: string;
  clicks: number;
}

export function createTopK(deps: {
  redis: Redis;
  pool: pg.Pool;
  keys: Keys;
  ttlSeconds: number;
  log: FastifyBaseLogger;
}) {
  const { redis, pool, keys, ttlSeconds, log } = deps;

  async function fromPostgres(g: Granularity, windowStart: number, limit: number): Promise<RankedAd[]> {
    const { rows } = await pool.query<{ ad_id: string; clicks: number }>(
      `SELECT ad_id, clicks FROM ${TABLE[g]} WHERE window_start = $1 AND clicks > 0
       ORDER BY clicks DESC, ad_id COLLATE "C" DESC LIMIT $2`,
      [new Date(windowStart).toISOString(), limit],
    );
    return rows.map((r) => ({ adId: r.ad_id, clicks: r.clicks }));
  }

  return {
    /** The top `k` ads of a window, from its sorted set (seeded from Postgres on first use). */
    async top(
      g: Granularity,
      windowStart: number,
      k: number,
      source: 'auto' | 'postgres' = 'auto',
    ): Promise<{ ads: RankedAd[]; source: 'redis' | 'postgres' }> {
      if (source === 'postgres') return { ads: await fromPostgres(g, windowStart, k), source: 'postgres' };
      const key = keys.topK(g, windowStart);
      try {
        const flat = await redis.zrange(key, 0, k - 1, 'REV', 'WITHSCORES');
        if (flat.length > 0) {
          const ads: RankedAd[] = [];
          for (let i = 0; i < flat.length; i += 2) ads.push({ adId: flat[i]!, clicks: Number(flat[i + 1]) });
          return { ads, source: 'redis' };
        }
      } catch (err) {
        log.warn({ err }, 'top-K sorted set unavailable: ranking from Postgres');
        return { ads: await fromPostgres(g, windowStart, k), source: 'postgres' };
      }
      const seed = await fromPostgres(g, windowStart, Math.max(SEED_SIZE, k));
      if (seed.length > 0) {
        await redis
          .multi()
          .zadd(key, 'GT', ...seed.flatMap((a) => [a.clicks, a.adId]))
          .expire(key, ttlSeconds)
          .exec()
          .catch((err: unknown) => log.warn({ err }, 'could not seed a top-K sorted set'));
      }
      return { ads: seed.slice(0, k), source: 'postgres' };
    },

    /** After a committed flush: raise the scores in the sets that exist (absolute totals). */
    async update(totals: { granularity: Granularity; windowStart: number; adId: string; clicks: number }[]) {
      const byKey = new Map<string, { adId: string; clicks: number }[]>();
      for (const t of totals) {
        const key = keys.topK(t.granularity, t.windowStart);
        const list = byKey.get(key) ?? [];
        list.push({ adId: t.adId, clicks: t.clicks });
        byKey.set(key, list);
      }
      await Promise.all([...byKey].map(([key, entries]) => updateTopK(redis, key, ttlSeconds, entries)));
    },

    /** After a correction (scores may go down): drop the sets so the next query reseeds them. */
    async invalidate(windows: { granularity: Granularity; windowStart: number }[]) {
      if (windows.length === 0) return;
      await redis.unlink(...windows.map((w) => keys.topK(w.granularity, w.windowStart)));
    },
  };
}
export type TopK = ReturnType<typeof createTopK>;
