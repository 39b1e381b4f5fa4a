import { ConfigError } from '@sdlab/service-kit';
import { jwtConfig } from '@sdlab/service-kit/auth';
import { postgresConfig } from '@sdlab/service-kit/postgres';
import Type, { type Static } from 'typebox';

// The gateway's settings, read once by the kit at start-up. Nothing else reads process.env.
// Defaults work against the native stack on 127.0.0.1; tests shorten the timers.
export const Config = Type.Object({
  // Postgres: a send waits at most PG_CONNECT_TIMEOUT_MS for a pooled connection, then gets an
  // `unavailable` error frame.
  ...postgresConfig(),

  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', minLength: 1 }),
  /** Every Redis key and pub/sub channel of the gateway starts with it (tests pass their own). */
  REDIS_KEY_PREFIX: Type.String({ default: 'chat:', minLength: 1, maxLength: 64, pattern: '^[^{}]+$' }),
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ default: 2000, minimum: 10, maximum: 30_000 }),

  /**
   * This process's name in the connection registry and the name of its pub/sub channel. Empty: a
   * fresh random id per start, so a restarted process never receives traffic meant for its
   * previous life.
   */
  INSTANCE_ID: Type.String({ default: '', maxLength: 64, pattern: '^[A-Za-z0-9_.-]*$' }),

  /** HS256 key, issuer and audience of access tokens (the kit's shared settings; the key's default is public). */
  ...jwtConfig({ audience: 'sdlab-chat' }),
  JWT_TTL_S: Type.Integer({ default: 3600, minimum: 10, maximum: 7 * 86_400 }),
  /**
   * `POST /tokens` mints a token for any user id. Development only: the kit turns it on in
   * development mode, off under NODE_ENV=production, and refuses a production start with it on.
   */
  TOKEN_ENDPOINT_ENABLED: Type.Boolean({ default: false }),

  /**
   * Every interval the gateway pings each socket and refreshes its registry entry; a socket that
   * has not answered the previous ping is terminated (the ping/pong timeout). 30 s [004:1198].
   */
  HEARTBEAT_INTERVAL_MS: Type.Integer({ default: 30_000, minimum: 50, maximum: 300_000 }),
  /** Lifetime of a registry entry without a heartbeat: 70 s [004:1197], a bit over two intervals. */
  REGISTRY_TTL_MS: Type.Integer({ default: 70_000, minimum: 100, maximum: 900_000 }),
  /** Live devices (connections) one user may hold at once; one more is refused with 4003. */
  MAX_DEVICES_PER_USER: Type.Integer({ default: 10, minimum: 1, maximum: 1000 }),
  /** Last-seen timestamps are kept this long after a user's last connection. */
  LAST_SEEN_TTL_S: Type.Integer({ default: 30 * 86_400, minimum: 60, maximum: 365 * 86_400 }),

  /** Largest frame answered with an error frame; the connection stays open. */
  MAX_FRAME_BYTES: Type.Integer({ default: 16_384, minimum: 256, maximum: 1_048_576 }),
  /** Largest frame read at all: a bigger one closes the connection with 1009 (ws `maxPayload`). */
  FRAME_HARD_LIMIT_BYTES: Type.Integer({ default: 262_144, minimum: 1024, maximum: 16_777_216 }),
  MAX_MESSAGE_CHARS: Type.Integer({ default: 4000, minimum: 1, maximum: 65_536 }),
  MAX_GROUP_MEMBERS: Type.Integer({ default: 256, minimum: 2, maximum: 10_000 }),
  /** Messages per history page (REST) and per sync reply (WebSocket). */
  PAGE_MAX: Type.Integer({ default: 200, minimum: 1, maximum: 1000 }),

  /** Per-connection token bucket for `send` and `typing` frames (through @sdlab/rate-limit). */
  SEND_RATE_CAPACITY: Type.Integer({ default: 30, minimum: 1, maximum: 100_000 }),
  SEND_RATE_REFILL_PER_S: Type.Number({ default: 10, exclusiveMinimum: 0, maximum: 100_000 }),
  /** A rate-limit call to Redis slower than this counts as failed and the limiter's fallback answers. */
  RATE_LIMIT_TIMEOUT_MS: Type.Integer({ default: 200, minimum: 10, maximum: 10_000 }),
  /** In-memory send-limit entries kept while Redis is away: one per connection this instance may hold. */
  RATE_LIMIT_LOCAL_KEYS: Type.Integer({ default: 65_536, minimum: 1000, maximum: 1_000_000 }),
  /** Frames of one connection waiting to be handled; past it the gateway stops reading the socket. */
  INBOUND_QUEUE_MAX: Type.Integer({ default: 64, minimum: 1, maximum: 10_000 }),

  /**
   * Group commit: sends that arrive while a commit is in flight (or within GROUP_COMMIT_WINDOW_MS
   * of an idle gateway's first one) are stored in one transaction, each acked after it commits.
   * A batch holds at most this many messages and bytes of text; the rest wait for the next.
   */
  GROUP_COMMIT_MAX_MESSAGES: Type.Integer({ default: 256, minimum: 1, maximum: 5000 }),
  GROUP_COMMIT_MAX_BYTES: Type.Integer({ default: 1_048_576, minimum: 65_536, maximum: 67_108_864 }),
  /** 0: an idle gateway commits at the end of the current event-loop turn; more waits that long. */
  GROUP_COMMIT_WINDOW_MS: Type.Integer({ default: 0, minimum: 0, maximum: 1000 }),
  /** Commits in flight at once per gateway (each holds one pooled connection). */
  GROUP_COMMIT_CONCURRENCY: Type.Integer({ default: 2, minimum: 1, maximum: 32 }),

  /** Bytes a socket may have in flight (ws `bufferedAmount`) before frames queue in the gateway. */
  SEND_HIGH_WATER_BYTES: Type.Integer({ default: 262_144, minimum: 1024, maximum: 67_108_864 }),
  /** Frames queued per socket beyond that; one more closes the socket with 4008 (slow consumer). */
  SEND_QUEUE_MAX: Type.Integer({ default: 1000, minimum: 1, maximum: 100_000 }),
  /** Bytes queued per socket beyond that; one more closes the socket with 4008, like SEND_QUEUE_MAX. */
  SEND_QUEUE_MAX_BYTES: Type.Integer({ default: 1_048_576, minimum: 4096, maximum: 268_435_456 }),
  /**
   * Message bytes one history frame (sync reply) carries at most; past it the page ends early
   * with hasMore. 200 messages of 4,000 characters would otherwise be ~850 KB-2.4 MB per frame.
   */
  HISTORY_FRAME_MAX_BYTES: Type.Integer({ default: 262_144, minimum: 1024, maximum: 16_777_216 }),
  /** A socket closed by the gateway that does not finish the closing handshake in time is cut. */
  CLOSE_GRACE_MS: Type.Integer({ default: 5000, minimum: 10, maximum: 60_000 }),
  /** On shutdown, clients get 1012 and this long to go before their sockets are cut. */
  DRAIN_TIMEOUT_MS: Type.Integer({ default: 5000, minimum: 10, maximum: 60_000 }),

  /** Messages older than this are deleted by the retention job: 30 days [003:3043]. */
  RETENTION_DAYS: Type.Integer({ default: 30, minimum: 1, maximum: 3650 }),
  RETENTION_EVERY_MS: Type.Integer({ default: 3_600_000, minimum: 1000, maximum: 86_400_000 }),
  RETENTION_BATCH: Type.Integer({ default: 5000, minimum: 1, maximum: 100_000 }),
  /** Schedules the BullMQ retention job and runs its worker in this process (one job at a time fleet-wide). */
  RETENTION_ENABLED: Type.Boolean({ default: true }),
});
export type Config = Static<typeof Config>;

/** Relations between settings that one schema field cannot express. */
export function checkConfig(config: Config): void {
  const problems: string[] = [];
  // An entry must outlive the interval between two refreshes, or a live connection flickers offline.
  if (config.REGISTRY_TTL_MS <= config.HEARTBEAT_INTERVAL_MS) {
    problems.push(
      `REGISTRY_TTL_MS (${config.REGISTRY_TTL_MS}) must be more than HEARTBEAT_INTERVAL_MS (${config.HEARTBEAT_INTERVAL_MS})`,
    );
  }
  if (config.FRAME_HARD_LIMIT_BYTES < config.MAX_FRAME_BYTES) {
    problems.push('FRAME_HARD_LIMIT_BYTES must be at least MAX_FRAME_BYTES');
  }
  // A history frame that could never fit the queue would close every slow-ish reader.
  if (config.SEND_QUEUE_MAX_BYTES < 2 * config.HISTORY_FRAME_MAX_BYTES) {
    problems.push('SEND_QUEUE_MAX_BYTES must be at least twice HISTORY_FRAME_MAX_BYTES');
  }
  // Each commit holds a pooled connection; REST and sync need some too.
  if (config.GROUP_COMMIT_CONCURRENCY >= config.PG_POOL_MAX) {
    problems.push('GROUP_COMMIT_CONCURRENCY must be less than PG_POOL_MAX');
  }
  // A message of MAX_MESSAGE_CHARS must fit a batch.
  if (config.GROUP_COMMIT_MAX_BYTES < 4 * config.MAX_MESSAGE_CHARS + 1024) {
    problems.push('GROUP_COMMIT_MAX_BYTES must hold one message of MAX_MESSAGE_CHARS (4 bytes a character)');
  }
  if (problems.length) throw new ConfigError('chat-gateway', problems);
}
