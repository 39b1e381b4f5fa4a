import type { KafkaFixture, PgFixture, RedisFixture } from '@sdlab/testkit';
import { buildApp } from '../../src/main.ts';
import { spooledEnv } from './env.ts';

/** The ingest and query API built in-process on a {@link spooledEnv}; `close` also removes the spool. */
export async function startApi(
  f: { pg: PgFixture; redis: RedisFixture; kafka: KafkaFixture },
  partitions: number,
  overrides: Record<string, string> = {},
) {
  const { topics, spool, env } = await spooledEnv(f, partitions, overrides);
  const service = await buildApp(env);
  const close = async () => {
    await service.app.close();
    spool.remove();
  };
  return { ...service, topics, env, close };
}
