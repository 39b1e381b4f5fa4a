import {
  createOneRuleLimiter,
  limiterDepsOf,
  type RateLimiter,
  type RouteRateLimit,
  routeLimit,
} from '@sdlab/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';

export const CREATE_LINK_RULE = 'create-link';

/**
 * The limiter behind `POST /api/links`: a token bucket per client in Redis [002:151]. Only creation
 * is limited; redirects are the product and are protected by the caches instead. While Redis is
 * down the library's default policy (local-fallback) limits per instance.
 */
export function createLinkLimiter(app: FastifyInstance, config: Config): RateLimiter {
  const rule = {
    name: CREATE_LINK_RULE,
    capacity: config.CREATE_LIMIT_CAPACITY,
    refillPerSec: config.CREATE_LIMIT_REFILL_PER_SEC,
    description: 'link creation per client IP',
  };
  return createOneRuleLimiter(rule, limiterDepsOf(app)).limiter;
}

/** The client a create is charged to: its address as the socket (or a trusted proxy) reports it. */
export function createLinkLimit(): RouteRateLimit {
  return routeLimit(CREATE_LINK_RULE, (request) => request.ip);
}
