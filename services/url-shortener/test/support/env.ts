import { type PgFixture, type RedisFixture, uniqueId } from '@sdlab/testkit';

/** Settings that point a shortener (API or worker) at this test's own database, keys and topic. */
export function shortenerEnv(
  fixtures: { pg: Pick<PgFixture, 'url'>; redis: Pick<RedisFixture, 'url' | 'prefix'>; brokers: string[] },
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const id = uniqueId();
  return {
    PORT: '0',
    LOG_LEVEL: 'silent',
    DATABASE_URL: fixtures.pg.url,
    REDIS_URL: fixtures.redis.url,
    REDIS_KEY_PREFIX: fixtures.redis.prefix,
    KAFKA_BROKERS: fixtures.brokers.join(','),
    CLICKS_TOPIC: `t-${id}-clicks`,
    STATS_GROUP_ID: `t-${id}-stats`,
    PUBLIC_BASE_URL: 'http://sho.rt',
    // Every request of a test comes from one address; the limit has its own test.
    CREATE_LIMIT_CAPACITY: '1000000',
    ...overrides,
  };
}
