import type { RedisFixture } from '@sdlab/testkit';
import { buildApp } from '../../src/main.ts';
import { limiterEnv } from './env.ts';
import { writeRules } from './rules-file.ts';

/** The real app from main.ts's factory on the test's Redis prefix, with the test's rules. */
export async function appWithRules(
  redis: Pick<RedisFixture, 'url' | 'prefix'>,
  rules: unknown[],
  env: NodeJS.ProcessEnv = {},
) {
  const file = writeRules(rules);
  const service = await buildApp({
    ...limiterEnv(redis, file.path),
    RULES_WATCH: 'false',
    LOG_LEVEL: 'silent',
    PORT: '0',
    // Wall-clock timeouts misfire when every suite shares two cores; a killed Redis fails at once
    // anyway (no offline queue), so the outage test does not need a short one.
    REDIS_COMMAND_TIMEOUT_MS: '5000',
    ...env,
  });
  await service.app.ready();
  // The Redis adapter connects in the background; tests start once it is up.
  if (service.app.redis.status !== 'ready')
    await new Promise((resolve) => service.app.redis.once('ready', resolve));
  return {
    ...service,
    rulesFile: file,
    async close() {
      await service.app.close();
      file.remove();
    },
  };
}

/** POST /v1/checks through inject; returns the decision and the response. */
export async function check(
  app: Awaited<ReturnType<typeof appWithRules>>['app'],
  body: { key: string; rule: string; cost?: number },
) {
  const response = await app.inject({ method: 'POST', url: '/v1/checks', payload: body });
  if (response.statusCode !== 200) throw new Error(`check failed: ${response.statusCode} ${response.body}`);
  return {
    decision: response.json() as {
      allowed: boolean;
      remaining: number;
      retryAfterMs: number;
      resetMs: number;
      source: string;
    },
    response,
  };
}
