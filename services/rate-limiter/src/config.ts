import { fileURLToPath } from 'node:url';
import { apiKeyConfig } from '@sdlab/service-kit/auth';
import Type from 'typebox';

/** The rules committed with the service; the same relative path from src/ and from dist/. */
export const DEFAULT_RULES_FILE = fileURLToPath(new URL('../config/rules.yaml', import.meta.url));

/**
 * Renamed to the names every other service uses; the old ones still work for one release, with a
 * warning in the log.
 */
export const RENAMED_CONFIG = [
  { from: 'RL_KEY_PREFIX', to: 'REDIS_KEY_PREFIX' },
  { from: 'REDIS_TIMEOUT_MS', to: 'REDIS_COMMAND_TIMEOUT_MS' },
] as const;

/** The rate-limiter's settings (merged with the kit's HOST, PORT, LOG_LEVEL ...). */
export const Config = Type.Object({
  REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', format: 'uri' }),
  /** Every key this service writes starts with it (tests pass their fixture's prefix). */
  REDIS_KEY_PREFIX: Type.String({ default: 'rl:', minLength: 1, maxLength: 64, pattern: '^[^{}\\s]+$' }),
  RULES_FILE: Type.String({ default: DEFAULT_RULES_FILE, minLength: 1 }),
  /** Reload when the rules file changes (SIGHUP always reloads). */
  RULES_WATCH: Type.Boolean({ default: true }),
  /**
   * A Redis call unanswered this long fails (failure policy answers; the breaker counts it).
   * Measured on Redis, not on the event loop; libs/rate-limit/src/breaker.ts says why 1 s.
   */
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ default: 1000, minimum: 5, maximum: 10_000 }),
  /** Consecutive Redis failures that open the breaker. */
  BREAKER_FAILURES: Type.Integer({ default: 5, minimum: 1, maximum: 1000 }),
  /** How long the breaker stays open before one trial call. */
  BREAKER_HALF_OPEN_MS: Type.Integer({ default: 1000, minimum: 50, maximum: 600_000 }),
  /** Most checks in one batch call. */
  BATCH_MAX: Type.Integer({ default: 1000, minimum: 1, maximum: 10_000 }),
  /** Keys held in memory per rule by the local fallback, and overall by the local cache. */
  LOCAL_MAX_KEYS: Type.Integer({ default: 10_000, minimum: 100, maximum: 10_000_000 }),
  /** Gateways send `Authorization: Bearer <API_KEY>` with every check and rules read. */
  ...apiKeyConfig('dev-rate-limiter-api-key'),
});
