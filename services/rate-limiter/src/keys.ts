import { type LimiterKeys, limiterKeys } from '@sdlab/rate-limit';

/**
 * Every Redis key this service writes, one per (rule, subject):
 *
 *   <REDIS_KEY_PREFIX><algorithm>:{<rule>:<subject>}
 *   rl:tb:{bucket:user-42}     token bucket       hash  t (tokens), ts (ms)
 *   rl:swl:{sliding-log:ip-1}  sliding-window log zset member per admitted unit, score = ms
 *   rl:swc:{free:user-42}      sliding counter    hash  w (window), c (current), p (previous)
 *   rl:fw:{fixed-window:k}     fixed window       hash  w (window), c (count)
 *
 * The braces are a Redis Cluster hash tag; each key expires once it no longer affects a decision.
 */
export function rateLimiterKeys(prefix: string): LimiterKeys {
  return limiterKeys(prefix);
}
