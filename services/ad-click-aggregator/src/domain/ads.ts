import { LRUCache } from 'lru-cache';
import type pg from 'pg';

export interface Ad {
  adId: string;
  campaignId: string;
  targetUrl: string;
  createdAt: string;
}

interface AdRow {
  ad_id: string;
  campaign_id: string;
  target_url: string;
  created_at: Date;
}

const toAd = (row: AdRow): Ad => ({
  adId: row.ad_id,
  campaignId: row.campaign_id,
  targetUrl: row.target_url,
  createdAt: row.created_at.toISOString(),
});

/** Ads in Postgres; `create` returns undefined when the id is taken. */
export function createAdsRepository(pool: pg.Pool) {
  return {
    async create(ad: { adId: string; campaignId: string; targetUrl: string }): Promise<Ad | undefined> {
      const { rows } = await pool.query<AdRow>(
        `INSERT INTO adclick.ads (ad_id, campaign_id, target_url) VALUES ($1, $2, $3)
         ON CONFLICT (ad_id) DO NOTHING RETURNING *`,
        [ad.adId, ad.campaignId, ad.targetUrl],
      );
      return rows[0] ? toAd(rows[0]) : undefined;
    },
    async get(adId: string): Promise<Ad | undefined> {
      const { rows } = await pool.query<AdRow>('SELECT * FROM adclick.ads WHERE ad_id = $1', [adId]);
      return rows[0] ? toAd(rows[0]) : undefined;
    },
  };
}
export type AdsRepository = ReturnType<typeof createAdsRepository>;

const MISSING = Symbol('missing');

/**
 * Where a click goes, kept in memory: ads change rarely and every click needs one. Concurrent
 * misses for one ad share a single query (lru-cache `fetch`), and while Postgres is away an
 * expired entry is served stale rather than failing the redirect.
 */
export function createAdDirectory(repository: AdsRepository, options: { ttlMs: number; max: number }) {
  const cache = new LRUCache<string, Ad | typeof MISSING>({
    max: options.max,
    ttl: Math.max(1, options.ttlMs),
    // The default (1 ms) caches the clock and arms a 1 ms timer to clear it on about every other
    // lookup (a timer per click); 0 reads performance.now() per check instead (as url-shortener's LRU).
    ttlResolution: 0,
    allowStaleOnFetchRejection: true,
    noDeleteOnFetchRejection: true,
    fetchMethod: async (adId) => (await repository.get(adId)) ?? MISSING,
  });
  return {
    /** The ad when it is cached and fresh, without a promise (the click's common case); else undefined. */
    cached(adId: string): Ad | undefined {
      // A stale entry stays for fetch to serve while Postgres is away.
      const ad = cache.get(adId, { noDeleteOnStaleGet: true });
      return ad === MISSING ? undefined : ad;
    },
    async get(adId: string): Promise<Ad | undefined> {
      const ad = await cache.fetch(adId);
      return ad === MISSING ? undefined : ad;
    },
    forget(adId: string): void {
      cache.delete(adId);
    },
  };
}
export type AdDirectory = ReturnType<typeof createAdDirectory>;
