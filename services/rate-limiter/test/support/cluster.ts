import { uniqueId } from '@sdlab/testkit';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { limiterEnv } from './env.ts';
import { type Instance, startInstance, untilReady } from './processes.ts';
import { writeRules } from './rules-file.ts';

export interface Cluster {
  instances: Instance[];
  /** The key prefix every instance writes under. */
  prefix: string;
  /** A client of the instances' Redis, for reading what they wrote. */
  redis: Redis;
  /** Stops the instances, removes the rules file and deletes every key they wrote. */
  close(): Promise<void>;
}

/**
 * `count` limiter processes (own ports) on one Redis under a fresh key prefix, sharing one rules
 * file, each ready (/readyz 200): the cluster of the multi-process guarantee tests.
 */
export async function startCluster(
  count: number,
  rules: unknown[],
  overrides: Record<string, string> = {},
): Promise<Cluster> {
  const url = inject('sdlabEndpoints').redis;
  const file = writeRules(rules);
  const prefix = `t:${uniqueId()}:`;
  const redis = new Redis(url);
  const instances = await Promise.all(
    Array.from({ length: count }, () =>
      startInstance({ ...limiterEnv({ url, prefix }, file.path), ...overrides }),
    ),
  );
  await Promise.all(instances.map(untilReady));
  return {
    instances,
    prefix,
    redis,
    async close() {
      await Promise.all(instances.map((i) => i.stop()));
      file.remove();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.unlink(...keys);
      redis.disconnect();
    },
  };
}
