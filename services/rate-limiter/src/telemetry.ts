import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// The limiter's own metrics (decisions by rule/outcome/source, Redis errors, breaker state, check
// duration) and span attributes come from @sdlab/rate-limit: sdlab_ratelimit_*, sdlab.ratelimit.*.
export { RateLimitAttributes } from '@sdlab/rate-limit';

/** Span attributes this service adds. */
export const RateLimiterAttributes = {
  BATCH_SIZE: 'sdlab.ratelimiter.batch_size',
} as const;

const byRegistry = new WeakMap<Registry, ReturnType<typeof create>>();

/** This service's metrics on the kit's registry; one set per registry however often it is asked. */
export function rateLimiterMetrics(registry: Registry) {
  let metrics = byRegistry.get(registry);
  if (!metrics) {
    metrics = create(registry);
    byRegistry.set(registry, metrics);
  }
  return metrics;
}

function create(registry: Registry) {
  return {
    rulesReloads: new Counter({
      name: 'sdlab_ratelimiter_rules_reloads_total',
      help: 'Rule reloads by trigger (sighup|watch|manual) and result (applied|rejected)',
      labelNames: ['trigger', 'result'] as const,
      registers: [registry],
    }),
    rulesLoaded: new Gauge({
      name: 'sdlab_ratelimiter_rules_loaded',
      help: 'Rules in force',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'sdlab_ratelimiter_batch_size',
      help: 'Checks per batch call',
      buckets: [1, 10, 50, 100, 250, 500, 1000, 5000],
      registers: [registry],
    }),
  };
}
export type RateLimiterMetrics = ReturnType<typeof rateLimiterMetrics>;
