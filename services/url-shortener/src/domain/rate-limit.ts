import { parseRules, RateLimiter } from '@sdlab/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';

export const CREATE_LINK_RULE = 'create-link';

/**
 * The limiter behind `POST /api/links`: a token bucket per client in Redis [002:151]. Only creation
 * is limited; redirects are the product and are protected by the caches instead. While Redis is
 * down the library's default policy (local-fallback) limits per instance.
 */
export function createLinkLimiter(app: FastifyInstance, config: Config): RateLimiter {
  return new RateLimiter({
    redis: app.redis,
    keys: app.keys.rateLimitPrefix,
    registry: app.kit.metrics,
    logger: app.log,
    rules: parseRules(
      [
        {
          name: CREATE_LINK_RULE,
          algorithm: 'token-bucket',
          capacity: config.CREATE_LIMIT_CAPACITY,
          refillPerSec: config.CREATE_LIMIT_REFILL_PER_SEC,
          description: 'link creation per client IP',
        },
      ],
      'url-shortener create limit',
    ),
  });
}

/** The client a create is charged to: its address as the socket (or a trusted proxy) reports it. */
export function createLinkLimit() {
  return { rule: CREATE_LINK_RULE, key: (request: FastifyRequest) => request.ip };
}
