import type { EsFixture, PgFixture, RedisFixture } from '@sdlab/testkit';

export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

/** The booking service's environment for one test: its own database, key prefix and index. */
export function bookingEnv(
  fx: { pg: PgFixture; redis: RedisFixture; es: EsFixture },
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: fx.pg.url,
    REDIS_URL: fx.redis.url,
    REDIS_KEY_PREFIX: fx.redis.prefix,
    ELASTICSEARCH_URL: fx.es.url,
    SEARCH_INDEX: fx.es.index('events'),
    PAYMENT_WEBHOOK_SECRET: WEBHOOK_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PG_POOL_MAX: '8',
    ...overrides,
  };
}
