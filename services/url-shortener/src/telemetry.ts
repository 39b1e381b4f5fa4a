import { LATENCY_BUCKETS } from '@sdlab/service-kit';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// The shortener's own signals, beside the kit's RED metrics. Each app or worker instance registers
// them on its own registry (app.kit.metrics), so two instances in one test process never share counts.

/** Span attribute keys the service sets (the README lists what each span carries). */
export const Attr = {
  code: 'sdlab.shortener.code',
  /** Which layer answered a lookup: lru, redis, postgres (or negative when it said "unknown"). */
  cacheLayer: 'sdlab.shortener.cache_layer',
  clickCount: 'sdlab.shortener.click_count',
  batchSize: 'sdlab.shortener.batch_size',
  /** Links whose unique-visitor sketch a stats batch updated (one PFADD each, not traced one by one). */
  visitorLinks: 'sdlab.shortener.visitor_links',
  partition: 'sdlab.shortener.partition',
} as const;

export type CacheLayer = 'lru' | 'redis' | 'postgres';
export type CacheResult = 'hit' | 'negative' | 'miss';

/** LRU answers, tallied as plain numbers on the redirect path and added to the counter at scrape time. */
export type LruTally = Record<CacheResult, number>;

export function createServiceMetrics(registry: Registry) {
  const registers = [registry];
  // A labelled prom-client inc hashes and validates its labels on every call; on a cache hit that
  // was a measurable part of a redirect, so the LRU layer's counts are moved in at collect time.
  const lruLookups: LruTally = { hit: 0, negative: 0, miss: 0 };
  return {
    lruLookups,
    cacheLookups: new Counter({
      name: 'sdlab_shortener_cache_lookups_total',
      help: 'Code lookups by layer and result: hit (a link), negative (a cached "unknown"), miss (asked the next layer)',
      labelNames: ['layer', 'result'] as const,
      registers,
      collect() {
        for (const result of ['hit', 'negative', 'miss'] as const) {
          if (lruLookups[result] === 0) continue;
          this.inc({ layer: 'lru', result }, lruLookups[result]);
          lruLookups[result] = 0;
        }
      },
    }),
    dbReads: new Counter({
      name: 'sdlab_shortener_db_reads_total',
      help: 'Link reads that reached Postgres (cache misses and early refreshes)',
      registers,
    }),
    singleFlightJoined: new Counter({
      name: 'sdlab_shortener_singleflight_joined_total',
      help: 'Lookups that waited on a read already in flight for the same code instead of starting their own',
      registers,
    }),
    earlyRefreshes: new Counter({
      name: 'sdlab_shortener_cache_early_refreshes_total',
      help: 'Hot entries near expiry: refreshed, skipped because another instance held the lock, or failed',
      labelNames: ['outcome'] as const,
      registers,
    }),
    redisErrors: new Counter({
      name: 'sdlab_shortener_cache_redis_errors_total',
      help: 'Redis cache operations that failed (the lookup fell through to Postgres)',
      labelNames: ['op'] as const,
      registers,
    }),
    clicksProduced: new Counter({
      name: 'sdlab_shortener_click_events_produced_total',
      help: 'Click events acknowledged by Kafka',
      registers,
    }),
    clicksFailed: new Counter({
      name: 'sdlab_shortener_click_events_failed_total',
      help: 'Click events lost: Kafka refused them after retries (reason=send) or the buffer was full (reason=buffer_full)',
      labelNames: ['reason'] as const,
      registers,
    }),
    clickBuffer: new Gauge({
      name: 'sdlab_shortener_click_buffer_events',
      help: 'Click events waiting to be sent to Kafka',
      registers,
    }),
    idBlockRefills: new Counter({
      name: 'sdlab_shortener_id_block_refills_total',
      help: 'ID blocks taken from the Redis counter: in the background before running dry, or blocking a create',
      labelNames: ['mode'] as const,
      registers,
    }),
    idCounterReseeds: new Counter({
      name: 'sdlab_shortener_id_counter_reseeds_total',
      help: 'Times this instance found the Redis ID counter missing or behind the Postgres high-water mark (Redis restarted empty or a lagging replica took over) and raised it to the mark',
      registers,
    }),
    idBlocksRefused: new Counter({
      name: 'sdlab_shortener_id_blocks_refused_total',
      help: 'ID blocks from Redis that the Postgres high-water mark refused, because a block reaching past their start was already recorded (Redis behind, or a later block of another instance recorded first); their values are skipped',
      registers,
    }),
    codeCollisions: new Counter({
      name: 'sdlab_shortener_code_collisions_total',
      help: 'Generated codes already taken (only by a custom alias of the same shape); the create took the next ID',
      registers,
    }),
    linksCreated: new Counter({
      name: 'sdlab_shortener_links_created_total',
      help: 'Links created, by kind of code (generated or alias)',
      labelNames: ['kind'] as const,
      registers,
    }),
    idempotentReplays: new Counter({
      name: 'sdlab_shortener_idempotent_replays_total',
      help: 'Creates answered with the stored result of an earlier request with the same Idempotency-Key',
      registers,
    }),
    lookupDuration: new Histogram({
      name: 'sdlab_shortener_lookup_duration_seconds',
      help: 'Time to resolve a code that missed the in-process LRU, by the layer that answered (redis or postgres)',
      labelNames: ['layer'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
}
export type ServiceMetrics = ReturnType<typeof createServiceMetrics>;

export function createWorkerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    statsBatchSize: new Histogram({
      name: 'sdlab_shortener_stats_batch_events',
      help: 'Click events applied per stats batch (one Postgres statement and one PFADD per link per batch)',
      buckets: [1, 10, 50, 100, 500, 1000, 5000, 10_000],
      registers,
    }),
    statsEvents: new Counter({
      name: 'sdlab_shortener_stats_events_total',
      help: 'Click events seen by the stats consumer: applied, duplicate (already counted before a redelivery) or invalid',
      labelNames: ['outcome'] as const,
      registers,
    }),
    statsLinksUpdated: new Counter({
      name: 'sdlab_shortener_stats_link_updates_total',
      help: 'Per-link stats rows written (at most one per link per batch)',
      registers,
    }),
    expiredDeleted: new Counter({
      name: 'sdlab_shortener_expired_links_deleted_total',
      help: 'Expired links deleted by the sweep (their cache entries and visitor sketches evicted)',
      registers,
    }),
    idempotencyKeysDeleted: new Counter({
      name: 'sdlab_shortener_idempotency_keys_deleted_total',
      help: 'Idempotency records past their TTL deleted by the sweep',
      registers,
    }),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
