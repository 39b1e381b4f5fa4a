import type { FastifyRequest } from 'fastify';
import { RateLimiter, type RateLimiterOptions } from './limiter.ts';
import type { RouteRateLimit } from './plugin.ts';
import { parseRules } from './rules.ts';

// A service that limits one thing (booking's holds per user, the shortener's creates per client)
// needs a limiter with one rule and the route option that charges it. Both services built the
// same RateLimiter around a one-element rules list; this is that construction, once.

/** The rule as a rules file would state it; `algorithm` defaults to 'token-bucket'. */
export type OneRule = { name: string; description: string; algorithm?: string } & Record<string, unknown>;

export type OneRuleLimiterDeps = Omit<RateLimiterOptions, 'rules'>;

/**
 * What a kit service has decorated by the time it builds its limiter: the Redis adapter's client,
 * the key builder from its `keys.ts`, the kit's metrics registry and the app's logger.
 */
export interface LimiterHost {
  redis: RateLimiterOptions['redis'];
  keys: { rateLimitPrefix: string };
  kit: { metrics: NonNullable<RateLimiterOptions['registry']> };
  log: NonNullable<RateLimiterOptions['logger']>;
}

/** The limiter's dependencies taken from the service's own decorations, the same way in every service. */
export function limiterDepsOf(app: LimiterHost): OneRuleLimiterDeps {
  return { redis: app.redis, keys: app.keys.rateLimitPrefix, registry: app.kit.metrics, logger: app.log };
}

/** A kit service's limiter holding one rule, on the service's Redis, key prefix, registry and logger. */
export function createServiceLimiter(app: LimiterHost, rule: OneRule): RateLimiter {
  return createOneRuleLimiter(rule, limiterDepsOf(app)).limiter;
}

export interface OneRuleLimiter {
  limiter: RateLimiter;
  /** The rule's name, as routes and metrics see it. */
  rule: string;
}

/**
 * A limiter holding exactly `rule`, validated as a rules file is (a bad value fails the start with
 * the rule's name in the message). Everything else is the limiter's own options: Redis, the key
 * prefix, the metrics registry, the logger, breaker and local-key bounds.
 */
export function createOneRuleLimiter(rule: OneRule, deps: OneRuleLimiterDeps): OneRuleLimiter {
  const rules = parseRules([{ algorithm: 'token-bucket', ...rule }], `rate limit '${rule.name}'`);
  return { limiter: new RateLimiter({ ...deps, rules }), rule: rule.name };
}

/** The route option charging `rule` to the subject `key` names (a user id, a client address). */
export function routeLimit(rule: string, key: (request: FastifyRequest) => string): RouteRateLimit {
  return { rule, key };
}
