import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Span attributes set on the request's span for every decision (Jaeger shows them on the trace). */
export const RateLimitAttributes = {
  RULE: 'sdlab.ratelimit.rule',
  ALLOWED: 'sdlab.ratelimit.allowed',
  SOURCE: 'sdlab.ratelimit.source',
  REMAINING: 'sdlab.ratelimit.remaining',
  COST: 'sdlab.ratelimit.cost',
} as const;

export interface RateLimitMetrics {
  decisions: Counter<'rule' | 'outcome' | 'source'>;
  redisErrors: Counter<'reason'>;
  breakerState: Gauge;
  checkDuration: Histogram<'source'>;
}

/** Seconds; edges around the 10 ms check target [002:484], finer below 1 ms where Redis answers. */
const CHECK_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

const byRegistry = new WeakMap<Registry, RateLimitMetrics>();

/**
 * The limiter's metrics on the given registry (a service passes `app.kit.metrics`). Idempotent per
 * registry, so several limiters in one process share the series instead of failing to register.
 */
export function rateLimitMetrics(registry: Registry): RateLimitMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const metrics: RateLimitMetrics = {
    decisions: new Counter({
      name: 'sdlab_ratelimit_decisions_total',
      help: 'Rate-limit decisions by rule, outcome (allowed|denied) and source (redis|local-cache|local-fallback|fail-open|fail-closed)',
      labelNames: ['rule', 'outcome', 'source'] as const,
      registers: [registry],
    }),
    redisErrors: new Counter({
      name: 'sdlab_ratelimit_redis_errors_total',
      help: 'Redis calls of the limiter that failed, by reason (error|timeout|breaker-open; late-answer = Redis answered a call after it timed out, so that check was decided twice)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: 'sdlab_ratelimit_breaker_state',
      help: 'Circuit breaker in front of Redis: 0 closed, 1 half-open, 2 open',
      registers: [registry],
    }),
    checkDuration: new Histogram({
      name: 'sdlab_ratelimit_check_duration_seconds',
      help: 'Time to reach one decision, by source',
      labelNames: ['source'] as const,
      buckets: CHECK_BUCKETS,
      registers: [registry],
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
