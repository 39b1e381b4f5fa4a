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
 * The kit's fail-fast Redis with the scripts loaded: the lock and the cache must fail fast, so while
 * Redis is away a hold goes on to Postgres (or answers 503, by policy) instead of queueing behind
 * reconnect attempts. Checked by /readyz, closed on shutdown.
 */
export const redisAdapter = failFastRedisPlugin({
  createKeys,
  defineScripts,
  options: {
    // A hold sends three commands (rate limit, cached event, seat-lock script), each its own
    // socket write: ~10 % of the hold's CPU in the contended run's profile (2026-12-06). Commands
    // issued in the same event-loop turn, by any request, now share one write.
    enableAutoPipelining: true,
  },
});
