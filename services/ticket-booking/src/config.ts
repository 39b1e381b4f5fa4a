import { jwtConfig } from '@sdlab/service-kit/auth';
import { postgresConfig } from '@sdlab/service-kit/postgres';
import Type, { type Static } from 'typebox';

// The service's settings, read once by the kit at start-up (src/main.ts and src/worker.ts).
// Nothing else reads process.env. Defaults work against the native stack on 127.0.0.1.
// Figures in brackets are the seeds' ([file:line], ../shared/design/SLO.md).
export const Config = Type.Object({
  // Postgres: a request waits at most PG_CONNECT_TIMEOUT_MS for a pooled connection, then answers 503.
  ...postgresConfig(),

  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', minLength: 1 }),
  /** Every Redis key of the service starts with it (tests pass their own). */
  REDIS_KEY_PREFIX: Type.String({ default: 'booking:', minLength: 1, maxLength: 64 }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ default: 500, minimum: 10, maximum: 30_000 }),
  /**
   * What a hold does when Redis fails: `db-only` goes on with the conditional Postgres update
   * alone (still no double sale, more load on Postgres); `fail-closed` answers 503.
   */
  REDIS_FAILURE_POLICY: Type.Union([Type.Literal('db-only'), Type.Literal('fail-closed')], {
    default: 'db-only',
  }),

  ELASTICSEARCH_URL: Type.String({ default: 'http://127.0.0.1:9200', minLength: 1 }),
  /** The events index (tests pass their own). */
  SEARCH_INDEX: Type.String({
    default: 'booking-events',
    minLength: 1,
    maxLength: 200,
    pattern: '^[a-z0-9][a-z0-9._-]*$',
  }),
  SEARCH_TIMEOUT_MS: Type.Integer({ default: 2000, minimum: 100, maximum: 60_000 }),
  /** How often Elasticsearch makes new writes searchable; part of the index lag (~1 s [004:521]). */
  SEARCH_REFRESH_INTERVAL: Type.String({ default: '1s', pattern: '^(-1|\\d+(ms|s))$' }),

  /**
   * Who a request acts for: an HS256 access token (kit's JwtVerifier) whose subject is the user;
   * catalogue writes need its `admin` scope. The committed secret is refused in production.
   */
  ...jwtConfig({ audience: 'ticket-booking' }),

  /** Per user: a burst of this many holds, purchases and waiting-room joins ... */
  USER_RATE_LIMIT_CAPACITY: Type.Integer({ default: 20, minimum: 1, maximum: 100_000 }),
  /** ... refilled at this rate. */
  USER_RATE_LIMIT_REFILL_PER_SEC: Type.Number({ default: 1, exclusiveMinimum: 0, maximum: 100_000 }),

  /** Seat hold: 10 min [003:73][004:1122]; the Redis lock and the database hold last this long. */
  HOLD_TTL_MS: Type.Integer({ default: 600_000, minimum: 100, maximum: 3_600_000 }),
  HOLD_MAX_SEATS: Type.Integer({ default: 10, minimum: 1, maximum: 100 }),
  /** Open (ACTIVE or CONFIRMING) holds one user may have at once, across events. */
  HOLD_MAX_ACTIVE_PER_USER: Type.Integer({ default: 5, minimum: 1, maximum: 1000 }),
  /** Group commit: holds that share one Postgres statement and commit, and such batches at once. */
  HOLD_BATCH_MAX: Type.Integer({ default: 64, minimum: 1, maximum: 1000 }),
  HOLD_BATCHES_IN_FLIGHT: Type.Integer({ default: 4, minimum: 1, maximum: 100 }),
  /** A hold being paid for is kept at least this long from the start of the payment. */
  PURCHASE_GRACE_MS: Type.Integer({ default: 60_000, minimum: 0, maximum: 3_600_000 }),
  /** Expiry sweep: every 30 s [004:1130]. */
  SWEEP_EVERY_MS: Type.Integer({ default: 30_000, minimum: 50, maximum: 3_600_000 }),
  SWEEP_BATCH: Type.Integer({ default: 1000, minimum: 1, maximum: 100_000 }),

  PAYMENT_PROVIDER_URL: Type.String({ default: 'http://127.0.0.1:8086', format: 'uri' }),
  /** The provider's API key (its API_KEY), sent as `Authorization: Bearer` on every call. */
  PAYMENT_PROVIDER_API_KEY: Type.String({
    default: 'dev-payment-provider-api-key',
    minLength: 16,
    maxLength: 256,
  }),
  /**
   * One call to the provider takes at most this long, first byte to last; then the outcome is
   * unknown (a charge is retried with the same key).
   */
  PAYMENT_TIMEOUT_MS: Type.Integer({ default: 3000, minimum: 50, maximum: 120_000 }),
  /** The provider's answers are a few hundred bytes; a larger one is cut off (outcome unknown). */
  PAYMENT_MAX_RESPONSE_BYTES: Type.Integer({ default: 65_536, minimum: 1024, maximum: 10_485_760 }),
  /** Extra attempts after a timeout or a 5xx, with the same idempotency key (never a second charge). */
  PAYMENT_RETRIES: Type.Integer({ default: 1, minimum: 0, maximum: 10 }),
  PAYMENT_CURRENCY: Type.String({ default: 'EUR', pattern: '^[A-Z]{3}$' }),
  /** Shared with the provider: verifies the `Sdlab-Signature` of its webhooks. */
  PAYMENT_WEBHOOK_SECRET: Type.String({
    default: 'dev-webhook-secret-change-me',
    minLength: 16,
    maxLength: 256,
  }),
  /** The worker asks the provider about purchases still pending after this long. */
  PAYMENT_RECONCILE_AFTER_MS: Type.Integer({ default: 60_000, minimum: 100, maximum: 86_400_000 }),
  RECONCILE_EVERY_MS: Type.Integer({ default: 30_000, minimum: 50, maximum: 3_600_000 }),
  RECONCILE_BATCH: Type.Integer({ default: 100, minimum: 1, maximum: 10_000 }),
  /** A purchase the reconciler failed on this many times is parked for a person to look at. */
  RECONCILE_MAX_ATTEMPTS: Type.Integer({ default: 10, minimum: 1, maximum: 1000 }),
  /** Its waits between attempts: drawn below base · 2^attempt, capped at RECONCILE_MAX_DELAY_MS. */
  RECONCILE_RETRY_BASE_MS: Type.Integer({ default: 30_000, minimum: 1, maximum: 3_600_000 }),
  RECONCILE_MAX_DELAY_MS: Type.Integer({ default: 3_600_000, minimum: 1, maximum: 86_400_000 }),

  /** Event details in Redis (cache-aside); 5 min–1 h [003:691]. */
  EVENT_CACHE_TTL_S: Type.Integer({ default: 300, minimum: 1, maximum: 3600 }),

  /** Outbox relay to Elasticsearch (worker): poll interval when no NOTIFY wakes it. */
  OUTBOX_POLL_MS: Type.Integer({ default: 1000, minimum: 10, maximum: 60_000 }),
  OUTBOX_BATCH: Type.Integer({ default: 500, minimum: 1, maximum: 10_000 }),
  OUTBOX_MAX_ATTEMPTS: Type.Integer({ default: 10, minimum: 1, maximum: 1000 }),
  OUTBOX_RETRY_BASE_MS: Type.Integer({ default: 200, minimum: 1, maximum: 600_000 }),

  /** Waiting room: admit 1000 per 10 s, token 5 min [004:1146-1147]. */
  WAITING_ROOM_ADMIT_BATCH: Type.Integer({ default: 1000, minimum: 1, maximum: 100_000 }),
  WAITING_ROOM_ADMIT_EVERY_MS: Type.Integer({ default: 10_000, minimum: 50, maximum: 3_600_000 }),
  WAITING_ROOM_TOKEN_TTL_S: Type.Integer({ default: 300, minimum: 1, maximum: 3600 }),
  /** HMAC key of the access tokens (HS256); every instance must share it. */
  WAITING_ROOM_SECRET: Type.String({
    default: 'dev-waiting-room-secret-change-me-0123',
    minLength: 32,
    maxLength: 512,
  }),
  /** How often an SSE stream pushes the queue position. */
  WAITING_ROOM_PUSH_EVERY_MS: Type.Integer({ default: 2000, minimum: 20, maximum: 60_000 }),
  WAITING_ROOM_MAX_STREAM_S: Type.Integer({ default: 3600, minimum: 1, maximum: 86_400 }),
  /** Open SSE streams per instance; past it a stream is refused with 503 (clients poll /status). */
  WAITING_ROOM_MAX_STREAMS: Type.Integer({ default: 2000, minimum: 1, maximum: 100_000 }),
});
export type Config = Static<typeof Config>;
