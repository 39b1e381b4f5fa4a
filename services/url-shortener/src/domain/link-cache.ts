import { randomInt } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import type { FastifyBaseLogger } from 'fastify';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.ts';
import type { Keys } from '../keys.ts';
import { getWithTtl } from '../scripts/index.ts';
import { Attr, type CacheLayer, type ServiceMetrics } from '../telemetry.ts';
import type { CachedLink, LinksRepository } from './links-repository.ts';
import { SingleFlight } from './single-flight.ts';

/** A cached "no such code": scans of random codes stop at the cache instead of reaching Postgres. */
const MISSING = Symbol('missing');
type Entry = CachedLink | typeof MISSING;
// One byte in Redis for a negative entry; a link is JSON {u, e}.
const MISSING_IN_REDIS = '-';

export interface Lookup {
  link: CachedLink | null;
  layer: CacheLayer;
}

const NEGATIVE_LRU: Lookup = Object.freeze({ link: null, layer: 'lru' });

type CacheSettings = Pick<
  Config,
  | 'LRU_MAX_ENTRIES'
  | 'LRU_TTL_MS'
  | 'LRU_NEGATIVE_TTL_MS'
  | 'REDIS_TTL_S'
  | 'REDIS_TTL_JITTER'
  | 'REDIS_NEGATIVE_TTL_S'
  | 'EARLY_REFRESH_RATIO'
  | 'REFRESH_LOCK_MS'
>;

/**
 * Cache-aside over three layers [003:493-498], [000:1234-1253]:
 *   in-process LRU (bounded, ~30 s) → Redis (30 min ± jitter) → Postgres.
 * Unknown codes are cached too, briefly (negative caching). Concurrent misses for one code share
 * one load (single-flight), and a Redis entry hit in the last `EARLY_REFRESH_RATIO` of its life is
 * reloaded in the background by the one instance that wins a short lock, so a hot code never
 * expires under load [000:1292-1319].
 */
export class LinkCache {
  readonly #lru: LRUCache<string, Entry>;
  readonly #flights = new SingleFlight<Lookup>();
  readonly #refreshing = new Set<string>();
  readonly #redis: Redis;
  readonly #keys: Keys;
  readonly #store: LinksRepository;
  readonly #metrics: ServiceMetrics;
  readonly #log: FastifyBaseLogger;
  readonly #settings: CacheSettings;
  readonly #refreshBelowMs: number;

  constructor(options: {
    redis: Redis;
    keys: Keys;
    store: LinksRepository;
    metrics: ServiceMetrics;
    log: FastifyBaseLogger;
    settings: CacheSettings;
  }) {
    this.#redis = options.redis;
    this.#keys = options.keys;
    this.#store = options.store;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#settings = options.settings;
    this.#refreshBelowMs = options.settings.REDIS_TTL_S * 1000 * options.settings.EARLY_REFRESH_RATIO;
    this.#lru = new LRUCache<string, Entry>({
      max: options.settings.LRU_MAX_ENTRIES,
      ttl: options.settings.LRU_TTL_MS,
      // Expiry is checked on read; no timers per entry.
      ttlAutopurge: false,
      // lru-cache's default (1 ms) caches its clock and arms a 1 ms setTimeout to clear it on a
      // read after the last one fired: at 2,000 redirects/s that is a timer, and often an event-loop
      // wake-up of its own, every other redirect (perf: 2.9 us of timer work per redirect against
      // 0.1 for a bare handler). 0 reads performance.now() per expiry check instead, no timer.
      ttlResolution: 0,
    });
  }

  /**
   * The hot path, synchronous: this instance's LRU alone. A link, `null` for a cached "no such
   * code", `undefined` when the LRU does not know the code (then `lookup` goes to Redis/Postgres).
   * No promise and no await, so a cached redirect answers in the turn that parsed it.
   */
  local(code: string): CachedLink | null | undefined {
    const local = this.#lru.get(code);
    if (local === undefined) return undefined;
    // A tally, no labelled metric call and no timing (an in-process map read).
    this.#metrics.lruLookups[local === MISSING ? 'negative' : 'hit']++;
    return local === MISSING ? null : local;
  }

  async lookup(code: string): Promise<Lookup> {
    const local = this.local(code);
    if (local !== undefined) {
      trace.getActiveSpan()?.setAttribute(Attr.cacheLayer, 'lru');
      return local === null ? NEGATIVE_LRU : { link: local, layer: 'lru' };
    }
    this.#metrics.lruLookups.miss++;
    const started = performance.now();
    const found = await this.#flights.run(
      code,
      () => this.#loadShared(code),
      () => this.#metrics.singleFlightJoined.inc(),
    );
    this.#observe(found.layer, started);
    return found;
  }

  /** Write-through after a create: Redis gets the link (replacing a negative entry), this LRU forgets the code. */
  async remember(code: string, link: CachedLink): Promise<void> {
    this.#lru.delete(code);
    await this.#writeRedis(code, link);
  }

  /** Drops a code from this instance's LRU (other instances' copies age out within LRU_TTL_MS). */
  forgetLocal(code: string): void {
    this.#lru.delete(code);
  }

  async #loadShared(code: string): Promise<Lookup> {
    const cached = await this.#readRedis(code);
    if (cached) {
      this.#metrics.cacheLookups.inc({
        layer: 'redis',
        result: cached.entry === MISSING ? 'negative' : 'hit',
      });
      this.#setLocal(code, cached.entry);
      if (cached.entry !== MISSING && cached.pttl > 0 && cached.pttl < this.#refreshBelowMs) {
        void this.#refreshEarly(code);
      }
      return { link: cached.entry === MISSING ? null : cached.entry, layer: 'redis' };
    }
    this.#metrics.cacheLookups.inc({ layer: 'redis', result: 'miss' });
    const link = await this.#store.findByCode(code);
    this.#metrics.cacheLookups.inc({ layer: 'postgres', result: link ? 'hit' : 'negative' });
    await this.#writeRedis(code, link ?? MISSING);
    this.#setLocal(code, link ?? MISSING);
    return { link, layer: 'postgres' };
  }

  async #refreshEarly(code: string): Promise<void> {
    if (this.#refreshing.has(code)) return;
    this.#refreshing.add(code);
    try {
      // The lock is left to expire rather than deleted: once refreshed, the entry has a full TTL
      // again and nobody else will ask, and an early delete would only invite a second refresh.
      const won = await this.#redis.set(
        this.#keys.refreshLock(code),
        '1',
        'PX',
        this.#settings.REFRESH_LOCK_MS,
        'NX',
      );
      if (won !== 'OK') {
        this.#metrics.earlyRefreshes.inc({ outcome: 'lock_busy' });
        return;
      }
      const link = await this.#store.findByCode(code);
      await this.#writeRedis(code, link ?? MISSING);
      this.#setLocal(code, link ?? MISSING);
      this.#metrics.earlyRefreshes.inc({ outcome: 'refreshed' });
    } catch (err) {
      // Postgres (or Redis) is down: keep serving the entry we have until it expires.
      this.#metrics.earlyRefreshes.inc({ outcome: 'failed' });
      this.#log.warn({ err, code }, 'early cache refresh failed');
    } finally {
      this.#refreshing.delete(code);
    }
  }

  async #readRedis(code: string): Promise<{ entry: Entry; pttl: number } | undefined> {
    try {
      const { value, pttl } = await getWithTtl(this.#redis, this.#keys.link(code));
      if (value === null) return undefined;
      if (value === MISSING_IN_REDIS) return { entry: MISSING, pttl };
      const parsed = JSON.parse(value) as { u: string; e: number | null };
      return { entry: { url: parsed.u, expiresAt: parsed.e }, pttl };
    } catch (err) {
      // Redis down or slow: fall through to Postgres (single-flight still bounds the load there).
      this.#metrics.redisErrors.inc({ op: 'get' });
      this.#log.debug({ err, code }, 'redis cache read failed');
      return undefined;
    }
  }

  async #writeRedis(code: string, entry: Entry): Promise<void> {
    try {
      if (entry === MISSING) {
        await this.#redis.set(
          this.#keys.link(code),
          MISSING_IN_REDIS,
          'EX',
          this.#settings.REDIS_NEGATIVE_TTL_S,
        );
      } else {
        const value = JSON.stringify({ u: entry.url, e: entry.expiresAt });
        await this.#redis.set(this.#keys.link(code), value, 'EX', this.#positiveTtlSeconds());
      }
    } catch (err) {
      this.#metrics.redisErrors.inc({ op: 'set' });
      this.#log.debug({ err, code }, 'redis cache write failed');
    }
  }

  #setLocal(code: string, entry: Entry): void {
    this.#lru.set(code, entry, {
      ttl: entry === MISSING ? this.#settings.LRU_NEGATIVE_TTL_MS : this.#settings.LRU_TTL_MS,
    });
  }

  /** Base TTL ± jitter, so entries cached together (a warm-up, a deploy) do not all expire together. */
  #positiveTtlSeconds(): number {
    const { REDIS_TTL_S: base, REDIS_TTL_JITTER: jitter } = this.#settings;
    const spread = Math.floor(base * jitter);
    return Math.min(3600, Math.max(300, base + (spread > 0 ? randomInt(-spread, spread + 1) : 0)));
  }

  #observe(layer: CacheLayer, started: number): void {
    this.#metrics.lookupDuration.observe({ layer }, (performance.now() - started) / 1000);
    trace.getActiveSpan()?.setAttribute(Attr.cacheLayer, layer);
  }
}
