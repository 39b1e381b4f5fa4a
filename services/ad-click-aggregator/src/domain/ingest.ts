import { traceContextCarrier } from '@sdlab/service-kit';
import { isPostgresUnavailable } from '@sdlab/service-kit/postgres';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { AdClickErrors } from '../errors.ts';
import type { Keys } from '../keys.ts';
import type { IngestMetrics } from '../telemetry.ts';
import type { AdDirectory } from './ads.ts';
import type { SpoolRecord } from './click-event.ts';
import type { DedupBatch } from './dedup-batch.ts';
import { type ImpressionRejection, verifyImpression } from './impression.ts';
import type { Spool } from './spool.ts';

export interface IngestDeps {
  config: Config;
  redis: Redis;
  /** The Redis SET NX of each click, batched (`markFirstClicks`). */
  dedup: DedupBatch;
  keys: Keys;
  spool: Spool;
  ads: AdDirectory;
  metrics: IngestMetrics;
  log: FastifyBaseLogger;
  now: () => number;
}

export type ClickResult = { location: string; outcome: 'recorded' | 'duplicate' | 'dropped' };

/**
 * Accepts one click: verify the signed impression (cheap, before any I/O), find the ad, drop a
 * repeat within the dedup window (Redis SET NX EX), append to the durable spool, and answer with
 * the advertiser's URL. The click is durable on this machine before the redirect is sent; Kafka
 * is reached by the shipper, off the request path.
 */
export function createClickIngest(deps: IngestDeps) {
  const { config, metrics } = deps;
  // Bound once: a labelled inc() hashes its label object on every click.
  const counted = {
    recorded: metrics.clicks.labels('recorded'),
    duplicate: metrics.clicks.labels('duplicate'),
    dropped: metrics.clicks.labels('dropped'),
  };

  function reject(reason: ImpressionRejection | 'unknown_ad', adId?: string): never {
    metrics.rejected.inc({ reason });
    metrics.clicks.inc({ outcome: 'rejected' });
    switch (reason) {
      case 'malformed':
        throw new AdClickErrors.ImpressionMalformed();
      case 'bad_signature':
      case 'not_yet_valid':
        throw new AdClickErrors.ImpressionForged(reason);
      case 'expired':
        throw new AdClickErrors.ImpressionExpired();
      case 'unknown_ad':
        throw new AdClickErrors.AdNotFound(adId ?? '');
    }
  }

  return {
    async click(impressionId: string): Promise<ClickResult> {
      const now = deps.now();
      const verified = verifyImpression(config.IMPRESSION_KEY, impressionId, {
        now,
        maxAgeMs: config.IMPRESSION_MAX_AGE_S * 1000,
        maxSkewMs: config.IMPRESSION_MAX_SKEW_S * 1000,
      });
      if (!verified.ok) reject(verified.reason);
      const { impression } = verified;

      let ad = deps.ads.cached(impression.adId);
      if (!ad) {
        try {
          ad = await deps.ads.get(impression.adId);
        } catch (error) {
          throw isPostgresUnavailable(error)
            ? new AdClickErrors.StoreUnavailable('postgres', { cause: error })
            : error;
        }
      }
      if (!ad) reject('unknown_ad', impression.adId);

      const dedupKey = deps.keys.dedup(impression.id);
      let dedup: SpoolRecord['dedup'] = 'redis';
      try {
        if (!(await deps.dedup.firstClick(dedupKey))) {
          counted.duplicate.inc();
          return { location: ad.targetUrl, outcome: 'duplicate' };
        }
      } catch (err) {
        // Fail open: a lost click is lost revenue, a rare duplicate is caught by reconciliation
        // review; the metric shows how many clicks went unchecked.
        dedup = 'unchecked';
        metrics.dedupUnavailable.inc();
        deps.log.warn({ err }, 'dedup unavailable: accepting the click unchecked');
      }

      const record: SpoolRecord = {
        impressionId: impression.id,
        adId: impression.adId,
        campaignId: impression.campaignId,
        clickedAt: now,
        dedup,
      };
      const trace = traceContextCarrier();
      if (trace.traceparent) record.trace = trace;
      try {
        await deps.spool.append(record);
      } catch (err) {
        // The visitor still reaches the advertiser; the click is lost and counted as such. The
        // dedup mark is released so a retry of the same click can still be recorded.
        counted.dropped.inc();
        deps.log.error({ err }, 'spool append failed: click dropped');
        if (dedup === 'redis') await deps.redis.del(dedupKey).catch(() => undefined);
        return { location: ad.targetUrl, outcome: 'dropped' };
      }
      counted.recorded.inc();
      return { location: ad.targetUrl, outcome: 'recorded' };
    },
  };
}
export type ClickIngest = ReturnType<typeof createClickIngest>;
