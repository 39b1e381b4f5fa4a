import { createServiceLimiter, type RateLimiter, type RouteRateLimit, routeLimit } from '@sdlab/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';

export const CREATE_LINK_RULE = 'create-link';

/**
 * The limiter behind `POST /api/links`: a token bucket per client in Redis [002:151]. Only creation
 * is limited; redirects are the product and are protected by the caches instead. While Redis is
 * down the library's default policy (local-fallback) limits per instance.
 */
export const createLinkLimiter = (app: FastifyInstance, config: Config): RateLimiter =>
  createServiceLimiter(app, {
    name: CREATE_LINK_RULE,
    description: 'link creation per client IP',
    capacity: config.CREATE_LIMIT_CAPACITY,
    refillPerSec: config.CREATE_LIMIT_REFILL_PER_SEC,
  });

/** The client a create is charged to: its address as the socket (or a trusted proxy) reports it. */
export const createLinkLimit = (): RouteRateLimit => routeLimit(CREATE_LINK_RULE, (request) => request.ip);
