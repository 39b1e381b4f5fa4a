import { ConfigError } from '@sdlab/service-kit';
import { jwtConfig } from '@sdlab/service-kit/auth';
import { postgresConfig } from '@sdlab/service-kit/postgres';
import Type, { type Static } from 'typebox';

/** The public development key: anyone can read it here, so it signs nothing that matters. */
export const DEV_IMPRESSION_KEY = 'sdlab-ad-click-dev-key-not-secret';

// The service's settings, read once by the kit at start-up (both entries: src/main.ts for ingest
// and queries, src/worker.ts for the aggregator). Nothing else reads process.env. Defaults work
// against the native stack on 127.0.0.1.
export const Config = Type.Object({
  ...postgresConfig({ default: 30_000, maximum: 3_600_000 }),

  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', minLength: 1 }),
  /** Every Redis key of the service starts with it (tests pass their own). */
  REDIS_KEY_PREFIX: Type.String({ default: 'adclick:', minLength: 1, maxLength: 64 }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ default: 500, minimum: 10, maximum: 30_000 }),

  KAFKA_BROKERS: Type.String({ default: '127.0.0.1:9092', minLength: 1 }),
  CLICKS_TOPIC: Type.String({ default: 'adclick.clicks', minLength: 1, maxLength: 200 }),
  /** The aggregator scales out to this many instances (one partition is owned by one consumer). */
  CLICKS_TOPIC_PARTITIONS: Type.Integer({ default: 6, minimum: 1, maximum: 256 }),
  DEAD_LETTER_TOPIC: Type.String({ default: 'adclick.clicks.dead-letter', minLength: 1, maxLength: 200 }),
  CONSUMER_GROUP: Type.String({ default: 'adclick-aggregator', minLength: 1, maxLength: 200 }),
  /** The broker drops a member silent for this long and rebalances its partitions (broker minimum 6 s). */
  KAFKA_SESSION_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 6000, maximum: 300_000 }),
  KAFKA_HEARTBEAT_MS: Type.Integer({ default: 3000, minimum: 100, maximum: 60_000 }),
  /**
   * Upper bounds of one fetch, per partition and in total (kafkajs decodes a whole fetch at once).
   * With 1 MiB a partition (6 MiB, 39,000 messages a fetch) a 1M-click backlog drain peaked at
   * 225 MB RSS under compose's heap bound; with these 182-192 MB at about the same rate (README).
   */
  KAFKA_MAX_BYTES_PER_PARTITION: Type.Integer({ default: 262_144, minimum: 1024, maximum: 52_428_800 }),
  KAFKA_FETCH_MAX_BYTES: Type.Integer({ default: 1_048_576, minimum: 1024, maximum: 52_428_800 }),
  /**
   * The broker holds a fetch until this much is there or KAFKA_FETCH_MAX_WAIT_MS passed: at a few
   * hundred clicks/s one fetch per few clicks cost the worker ~40x a click's own CPU, and
   * counts become visible only at the next flush anyway. A backlog fills it at once.
   */
  KAFKA_FETCH_MIN_BYTES: Type.Integer({ default: 65_536, minimum: 1, maximum: 52_428_800 }),
  KAFKA_FETCH_MAX_WAIT_MS: Type.Integer({ default: 250, minimum: 0, maximum: 5000 }),

  /** HMAC-SHA256 key of impression ids. The default is public: set a real one anywhere but a laptop. */
  IMPRESSION_KEY: Type.String({ default: DEV_IMPRESSION_KEY, minLength: 16, maxLength: 256 }),
  /**
   * `POST /ads/:adId/impressions` mints signed ids (the ad server's job). `auto`: on only while the
   * key is the public development key, so a deployment with a real key never exposes a signer.
   */
  IMPRESSION_SIGNER: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')], {
    default: 'auto',
  }),
  /** A click on an impression older than this is refused (410). */
  IMPRESSION_MAX_AGE_S: Type.Integer({ default: 7 * 86_400, minimum: 60, maximum: 90 * 86_400 }),
  /** A click on an impression issued further than this in the future is refused as forged. */
  IMPRESSION_MAX_SKEW_S: Type.Integer({ default: 300, minimum: 0, maximum: 3600 }),
  /**
   * Second and later clicks on one impression within this window are duplicates [004:1228]. It must
   * cover the impression's whole life (IMPRESSION_MAX_AGE_S + IMPRESSION_MAX_SKEW_S, the default):
   * a shorter window let a replayed click URL count again every window for as long as it is valid.
   */
  DEDUP_TTL_S: Type.Optional(Type.Integer({ minimum: 1, maximum: 91 * 86_400 })),
  /** Ads (target URLs) stay in the ingest's memory this long; served stale while Postgres is away. */
  AD_CACHE_TTL_MS: Type.Integer({ default: 60_000, minimum: 0, maximum: 3_600_000 }),
  AD_CACHE_MAX: Type.Integer({ default: 100_000, minimum: 1, maximum: 10_000_000 }),

  /** Durable local spool of accepted clicks; one directory per ingest instance (it is locked). */
  SPOOL_DIR: Type.String({ default: '.spool', minLength: 1, maxLength: 1024 }),
  SPOOL_SEGMENT_BYTES: Type.Integer({ default: 16 * 1_048_576, minimum: 4096, maximum: 1_073_741_824 }),
  /** Backlog the spool may hold while Kafka is away; beyond it clicks are redirected but dropped (counted). */
  SPOOL_MAX_BYTES: Type.Integer({ default: 1_073_741_824, minimum: 65_536, maximum: 1_099_511_627_776 }),
  /**
   * A spool group commit of fewer than 8 clicks waits this long for more before its durable write:
   * at ~1,200 clicks/s it cut the ingest's CPU a click by ~55 µs (−17 %) for ~1–2 ms more redirect
   * latency (README, "The spool's sync at the runner's rate"). 0: write at once.
   */
  SPOOL_COMMIT_DELAY_MS: Type.Integer({ default: 1, minimum: 0, maximum: 100 }),
  /** Clicks per produce request from the spool to Kafka. */
  SHIP_BATCH_MAX: Type.Integer({ default: 2000, minimum: 1, maximum: 50_000 }),
  /**
   * After shipping a batch smaller than SHIP_BATCH_MAX, the shipper waits this long before the next
   * (the clicks are already durable in the spool): at a few hundred clicks/s it otherwise sent a
   * produce request and rewrote the checkpoint for every few clicks. Kafka sees a click this much later.
   */
  SHIP_LINGER_MS: Type.Integer({ default: 50, minimum: 0, maximum: 5000 }),
  /** Longest wait between attempts while Kafka is unavailable (capped, jittered backoff). */
  SHIP_RETRY_MAX_MS: Type.Integer({ default: 5000, minimum: 10, maximum: 120_000 }),

  /** Events later than this behind their partition's newest event are dead-lettered [004:1262-1265]. */
  ALLOWED_LATENESS_MS: Type.Integer({ default: 300_000, minimum: 0, maximum: 86_400_000 }),
  /** Partial results are flushed at least this often [004:1257]. */
  FLUSH_INTERVAL_MS: Type.Integer({ default: 10_000, minimum: 10, maximum: 3_600_000 }),
  /** ... and as soon as this many consumed clicks are pending [003:786]. */
  FLUSH_MAX_EVENTS: Type.Integer({ default: 20_000, minimum: 1, maximum: 1_000_000 }),
  /**
   * Flushes that may commit at once, each on its own Postgres connection and for partitions no
   * other running flush holds (each transaction carries exactly its partitions' counts and offsets).
   */
  FLUSH_CONCURRENCY: Type.Integer({ default: 2, minimum: 1, maximum: 16 }),
  /** Raw click partitions (one per day) kept before the worker drops them. */
  RAW_RETENTION_DAYS: Type.Integer({ default: 35, minimum: 1, maximum: 3650 }),
  /** Top-K sorted sets in Redis live this long after their window's last update. */
  TOPK_TTL_S: Type.Integer({ default: 2 * 86_400, minimum: 60, maximum: 90 * 86_400 }),

  /** BullMQ repeat pattern of the reconciliation of the previous UTC day (03:05 UTC [004:935]). */
  RECONCILE_CRON: Type.String({ default: '5 3 * * *', minLength: 9, maxLength: 100 }),
  /** A window whose stream count differs from the recount by more than this share is corrected [004:1498]. */
  RECONCILE_DRIFT_THRESHOLD: Type.Number({ default: 0.001, minimum: 0, maximum: 1 }),
  /** Warn when more than this share of the windows needed a correction [004:1506]. */
  RECONCILE_ALERT_RATIO: Type.Number({ default: 0.005, minimum: 0, maximum: 1 }),
  /** Reconciliations (full scans of raw clicks) waiting or running at once; one more is refused (429). */
  RECONCILE_QUEUE_MAX: Type.Integer({ default: 3, minimum: 1, maximum: 100 }),
  /** Bearer JWTs of the ads and stats API (`advertiser` or `admin` scope) and reconciliations (`admin`). */
  ...jwtConfig({ audience: 'sdlab-ads' }),
  /** The worker runs scheduled reconciliations (several workers share them through BullMQ). */
  RECONCILE_ENABLED: Type.Boolean({ default: true }),
});
export type Config = Static<typeof Config>;

export const DEFAULT_PORT = 8084;
export const DEFAULT_WORKER_PORT = 9484;

/** The dedup window: the impression's whole life unless set (and then at least that). */
export function dedupTtlS(config: Config): number {
  return config.DEDUP_TTL_S ?? config.IMPRESSION_MAX_AGE_S + config.IMPRESSION_MAX_SKEW_S;
}

/** Relations between settings that one field cannot express; `production` is the kit's run mode. */
export function checkConfig(config: Config, mode: 'production' | 'development'): void {
  const problems: string[] = [];
  const life = config.IMPRESSION_MAX_AGE_S + config.IMPRESSION_MAX_SKEW_S;
  if (dedupTtlS(config) < life) {
    problems.push(
      `DEDUP_TTL_S (${config.DEDUP_TTL_S}) must cover an impression's life, IMPRESSION_MAX_AGE_S + IMPRESSION_MAX_SKEW_S (${life}): unset it`,
    );
  }
  if (mode === 'production' && config.IMPRESSION_SIGNER === 'on') {
    problems.push('IMPRESSION_SIGNER=on exposes a development-only impression signer: set it to auto or off');
  }
  if (problems.length) throw new ConfigError('ad-click-aggregator', problems);
}

export function signerEnabled(config: Config): boolean {
  if (config.IMPRESSION_SIGNER === 'auto') return config.IMPRESSION_KEY === DEV_IMPRESSION_KEY;
  return config.IMPRESSION_SIGNER === 'on';
}
