import { failFastRedisPlugin } from '@sdlab/service-kit/redis';
import type { Redis } from 'ioredis';
import { createKeys, type Keys } from '../keys.ts';
import { defineScripts } from '../scripts/index.ts';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    keys: Keys;
  }
}

/**
 * The kit's fail-fast Redis with the scripts loaded: dedup and top-K must fail fast, so while Redis
 * is away a click is accepted unchecked (and counted as such) instead of the redirect queueing
 * behind reconnect attempts. Checked by /readyz, closed on shutdown.
 */
export const redisAdapter = failFastRedisPlugin({ createKeys, defineScripts });
