import {
  createOneRuleLimiter,
  limiterDepsOf,
  type RateLimiter,
  type RouteRateLimit,
  routeLimit,
} from '@sdlab/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';

export const USER_RULE = 'booking-user';

/**
 * One token bucket per user over the calls that take inventory or queue places (hold, purchase,
 * waiting-room join), in Redis so every instance shares it. With Redis down the library's
 * default policy (local-fallback) limits per instance.
 */
export function createUserLimiter(app: FastifyInstance, config: Config): RateLimiter {
  const rule = {
    name: USER_RULE,
    capacity: config.USER_RATE_LIMIT_CAPACITY,
    refillPerSec: config.USER_RATE_LIMIT_REFILL_PER_SEC,
    description: 'holds, purchases and waiting-room joins per user',
  };
  return createOneRuleLimiter(rule, limiterDepsOf(app)).limiter;
}

/** The route option: charged to the user the request acts for. */
export function perUser(userOf: (request: FastifyRequest) => string): RouteRateLimit {
  return routeLimit(USER_RULE, userOf);
}
