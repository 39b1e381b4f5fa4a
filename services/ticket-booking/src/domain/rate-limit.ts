import { createServiceLimiter, type RateLimiter, type RouteRateLimit, routeLimit } from '@sdlab/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';

export const USER_RULE = 'booking-user';

/**
 * One token bucket per user over the calls that take inventory or queue places (hold, purchase,
 * waiting-room join), in Redis so every instance shares it. With Redis down the library's
 * default policy (local-fallback) limits per instance.
 */
export const createUserLimiter = (app: FastifyInstance, config: Config): RateLimiter =>
  createServiceLimiter(app, {
    name: USER_RULE,
    description: 'holds, purchases and waiting-room joins per user',
    capacity: config.USER_RATE_LIMIT_CAPACITY,
    refillPerSec: config.USER_RATE_LIMIT_REFILL_PER_SEC,
  });

/** The route option: charged to the user the request acts for. */
export const perUser = (userOf: (request: FastifyRequest) => string): RouteRateLimit =>
  routeLimit(USER_RULE, userOf);
