import type { RedisFixture } from '@sdlab/testkit';

/** The limiter's settings for one test: its Redis, its own key prefix, its own rules file. */
export function limiterEnv(
  redis: Pick<RedisFixture, 'url' | 'prefix'>,
  rulesFile: string,
  overrides: Record<string, string> = {},
): NodeJS.ProcessEnv {
  return { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, RULES_FILE: rulesFile, ...overrides };
}
