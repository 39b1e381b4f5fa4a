import { postgresConfig } from '@sdlab/service-kit/postgres';
import Type, { type Static } from 'typebox';

// The service's settings, read once by the kit at start-up (both entries: src/main.ts, src/worker.ts).
// Nothing else reads process.env. Defaults work against the native stack on 127.0.0.1.
export const Config = Type.Object({
  // Postgres: a create or read waits at most PG_CONNECT_TIMEOUT_MS for a pooled connection, then
  // answers 503.
  ...postgresConfig(),

  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', minLength: 1 }),
  /** Every Redis key of the service starts with it (tests pass their own). */
  REDIS_KEY_PREFIX: Type.String({ default: 'shortener:', minLength: 1, maxLength: 64 }),
  /** A Redis command that takes longer fails, and the read falls through to the next layer. */
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ default: 500, minimum: 10, maximum: 30_000 }),

  KAFKA_BROKERS: Type.String({ default: '127.0.0.1:9092', minLength: 1 }),
  CLICKS_TOPIC: Type.String({ default: 'shortener.clicks', minLength: 1, maxLength: 200 }),
  CLICKS_TOPIC_PARTITIONS: Type.Integer({ default: 3, minimum: 1, maximum: 256 }),
  /**
   * Linger: clicks are sent in one produce request per interval (or sooner when a batch fills).
   * A kafkajs produce request cost the API about a millisecond of CPU in a profile (shared
   * machine) whatever it carried, which at 50 ms was the largest own cost of a cached redirect
   * after packing; stats wait for the worker's fetch (up to STATS_MAX_WAIT_MS) anyway.
   */
  CLICK_FLUSH_MS: Type.Integer({ default: 200, minimum: 1, maximum: 10_000 }),
  CLICK_BATCH_MAX: Type.Integer({ default: 500, minimum: 1, maximum: 10_000 }),
  /** Clicks held while Kafka is slow or down; beyond it new clicks are dropped (and counted). */
  CLICK_BUFFER_MAX: Type.Integer({ default: 50_000, minimum: 1, maximum: 1_000_000 }),
  STATS_GROUP_ID: Type.String({ default: 'shortener-stats', minLength: 1, maxLength: 200 }),
  /**
   * The batch interval: the broker holds a fetch until STATS_MIN_BYTES have gathered or this much
   * time has passed. Without it a busy link's clicks arrive a few at a time and every batch writes
   * its row again (measured: 1201 clicks at 100/s gave 568 batches and 1086 row writes).
   */
  STATS_MAX_WAIT_MS: Type.Integer({ default: 1000, minimum: 10, maximum: 30_000 }),
  STATS_MIN_BYTES: Type.Integer({ default: 65_536, minimum: 1, maximum: 16_777_216 }),

  /** Base of the short URLs returned by create. */
  PUBLIC_BASE_URL: Type.String({ default: 'http://localhost:8081', format: 'uri' }),
  /** Counter values reserved per INCRBY [003:1941-1945]. */
  ID_BLOCK_SIZE: Type.Integer({ default: 1000, minimum: 1, maximum: 1_000_000 }),
  /** Fetch the next block in the background once this share of the current one is left. */
  ID_REFILL_AT: Type.Number({ default: 0.2, minimum: 0, maximum: 0.9 }),
  /** Key of the counter scramble. Fixed for the life of the data: changing it can reissue codes. */
  ID_SCRAMBLE_KEY: Type.String({ default: 'sdlab-url-shortener-dev-key', minLength: 8, maxLength: 256 }),

  LRU_MAX_ENTRIES: Type.Integer({ default: 100_000, minimum: 1, maximum: 10_000_000 }),
  LRU_TTL_MS: Type.Integer({ default: 30_000, minimum: 1, maximum: 600_000 }),
  LRU_NEGATIVE_TTL_MS: Type.Integer({ default: 5000, minimum: 1, maximum: 600_000 }),
  /** Redis entry lifetime: 5–60 min as documented [003:496], jittered so one deploy's keys do not expire together. */
  REDIS_TTL_S: Type.Integer({ default: 1800, minimum: 300, maximum: 3600 }),
  REDIS_TTL_JITTER: Type.Number({ default: 0.1, minimum: 0, maximum: 0.5 }),
  REDIS_NEGATIVE_TTL_S: Type.Integer({ default: 60, minimum: 1, maximum: 3600 }),
  /** A Redis hit with less than this share of its TTL left is refreshed from Postgres in the background. */
  EARLY_REFRESH_RATIO: Type.Number({ default: 0.1, minimum: 0, maximum: 0.9 }),
  REFRESH_LOCK_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 60_000 }),

  /**
   * Creates per client IP, as a token bucket [002:151]: bursts of CAPACITY, REFILL_PER_SEC after.
   * The seeds give no creation figure; their tiers are free 100/min and pro 10K/min [000:1434].
   * The default (1000 burst, 20/s = 1200/min) sits between, so one load generator — k6 on loopback
   * is a single client — can run the full profile. A public deployment sets its own.
   */
  CREATE_LIMIT_CAPACITY: Type.Integer({ default: 1000, minimum: 1, maximum: 10_000_000 }),
  CREATE_LIMIT_REFILL_PER_SEC: Type.Number({ default: 20, exclusiveMinimum: 0, maximum: 10_000_000 }),

  IDEMPOTENCY_TTL_S: Type.Integer({ default: 86_400, minimum: 60, maximum: 604_800 }),

  EXPIRY_SWEEP_EVERY_MS: Type.Integer({ default: 60_000, minimum: 100, maximum: 86_400_000 }),
  /** Expired links answer 410 for this long, then the sweep deletes them (and frees their alias). */
  EXPIRED_RETENTION_S: Type.Integer({ default: 86_400, minimum: 0, maximum: 31_536_000 }),
  EXPIRY_SWEEP_BATCH: Type.Integer({ default: 1000, minimum: 1, maximum: 100_000 }),
});
export type Config = Static<typeof Config>;
