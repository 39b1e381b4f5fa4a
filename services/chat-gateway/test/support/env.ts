import type { PgFixture, RedisFixture } from '@sdlab/testkit';

/** Settings every test gateway shares: its own database and key prefix, quiet logs, loopback only. */
export function gatewayEnv(
  pg: PgFixture,
  redis: RedisFixture,
  extra: Record<string, string> = {},
): Record<string, string> {
  // The pg fixture ends its pool and then drops the database WITH (FORCE); pg-pool's end()
  // resolves before its clients have closed, so a client still closing gets "terminating
  // connection due to administrator command", which an error-less pool turns into an uncaught
  // exception. Nothing is wrong with the test's data at that point.
  if (pg.pool.listenerCount('error') === 0) pg.pool.on('error', () => undefined);
  return {
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    DATABASE_URL: pg.url,
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: redis.prefix,
    RETENTION_ENABLED: 'false',
    PG_POOL_MAX: '5',
    ...extra,
  };
}
