import type { FastifyPluginAsync, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Decision } from './decision.ts';
import { RateLimitErrors } from './errors.ts';
import { retryAfterSeconds, setRateLimitHeaders } from './headers.ts';
import type { RateLimiter } from './limiter.ts';

/** Put on a route as `config: { rateLimit: { rule: 'free', key: (req) => req.ip } }`. */
export interface RouteRateLimit {
  rule: string;
  /** The subject being limited: user id, API key, IP ... */
  key: (request: FastifyRequest) => string;
  cost?: number | ((request: FastifyRequest) => number);
}

export interface RateLimitPluginOptions {
  limiter: RateLimiter;
  /**
   * `onRequest` (default) rejects before the body is read; `preHandler` lets the key function use
   * the parsed body and params.
   */
  hook?: 'onRequest' | 'preHandler';
  /** Adds `X-RateLimit-Source`; off by default, since it tells clients about the backend's health. */
  exposeSource?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    rateLimit?: RouteRateLimit;
  }
  interface FastifyRequest {
    rateLimit?: Decision;
  }
}

/**
 * Applies rules to the routes that ask for one. A denied request is answered 429 through the
 * service's error handler (problem+json; the kit sets Retry-After from `retryAfterSeconds`), with
 * the RateLimit headers on allowed and denied responses alike. Routes registered after this plugin,
 * in the same or a child context, are covered; an unknown rule fails at registration, not at the
 * first request.
 */
const plugin: FastifyPluginAsync<RateLimitPluginOptions> = async (app, options) => {
  const { limiter, hook = 'onRequest', exposeSource = false } = options;
  app.decorateRequest('rateLimit', undefined);

  app.addHook('onRoute', (route) => {
    const config = route.config?.rateLimit;
    if (!config) return;
    if (!limiter.rule(config.rule)) {
      throw new Error(`route ${route.method} ${route.url}: no rate-limit rule named "${config.rule}"`);
    }
    // A callback hook fed by limiter.decide()'s callback: no promise and no microtask turn per
    // request (an async hook and check()'s promise each cost one).
    const enforce: onRequestHookHandler = (request, reply, done) => {
      const cost = typeof config.cost === 'function' ? config.cost(request) : (config.cost ?? 1);
      limiter.decide(config.key(request), config.rule, cost, (refused, decision) => {
        if (!decision) return done(refused);
        request.rateLimit = decision;
        setRateLimitHeaders(reply, decision);
        if (exposeSource) reply.header('x-ratelimit-source', decision.source);
        if (decision.allowed) return done();
        const error = new RateLimitErrors.Exceeded(decision.policy);
        done(Object.assign(error, { retryAfterSeconds: retryAfterSeconds(decision) }));
      });
    };
    const existing = route[hook];
    route[hook] = existing ? [...(Array.isArray(existing) ? existing : [existing]), enforce] : [enforce];
  });
};

export const rateLimitPlugin = fp(plugin, { name: '@sdlab/rate-limit', fastify: '5.x' });
