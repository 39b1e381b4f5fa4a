import { ExposedHistogram, HistogramSeries } from '@sdlab/service-kit/exposed-histogram';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DecisionSource } from './decision.ts';

/** Span attributes set on the request's span for every decision (Jaeger shows them on the trace). */
export const RateLimitAttributes = {
  RULE: 'sdlab.ratelimit.rule',
  ALLOWED: 'sdlab.ratelimit.allowed',
  SOURCE: 'sdlab.ratelimit.source',
  REMAINING: 'sdlab.ratelimit.remaining',
  COST: 'sdlab.ratelimit.cost',
} as const;

export interface RateLimitMetrics {
  /** Decisions by rule, outcome and source: count them with `countDecisions`, not `inc` (cheaper). */
  decisions: Counter<'rule' | 'outcome' | 'source'>;
  countDecisions(rule: string, allowed: boolean, source: DecisionSource, n: number): void;
  redisErrors: Counter<'reason'>;
  breakerState: Gauge;
  checkDuration: CheckDurations;
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
  // prom-client hashes a label set into a string on every inc() and observe(), a child's too
  // (labels() only binds the object): 2-3 µs of a check's CPU at one check per Redis call in the
  // service's profile. Decisions are counted in plain numbers and handed to the counter when it
  // is scraped (its collect()); check durations go to a histogram without label objects.
  const pending = new Map<string, Float64Array>();
  const metrics: RateLimitMetrics = {
    decisions: new Counter({
      name: 'sdlab_ratelimit_decisions_total',
      help: 'Rate-limit decisions by rule, outcome (allowed|denied) and source (redis|local-cache|local-fallback|fail-open|fail-closed)',
      labelNames: ['rule', 'outcome', 'source'] as const,
      registers: [registry],
      collect() {
        for (const [rule, counts] of pending) {
          for (let slot = 0; slot < counts.length; slot++) {
            const n = counts[slot]!;
            if (n === 0) continue;
            counts[slot] = 0;
            const outcome = slot < SOURCES.length ? 'allowed' : 'denied';
            this.inc({ rule, outcome, source: SOURCES[slot % SOURCES.length]! }, n);
          }
        }
      },
    }),
    countDecisions(rule, allowed, source, n) {
      let counts = pending.get(rule);
      if (!counts) {
        counts = new Float64Array(SOURCES.length * 2);
        pending.set(rule, counts);
      }
      counts[(allowed ? 0 : SOURCES.length) + SOURCES.indexOf(source)]! += n;
    },
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
    checkDuration: new CheckDurations(registry),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}

const SOURCES: readonly DecisionSource[] = [
  'redis',
  'local-cache',
  'local-fallback',
  'fail-open',
  'fail-closed',
];

/**
 * sdlab_ratelimit_check_duration_seconds, a Prometheus histogram by source; an observation is a
 * Map lookup and a bucket increment (the kit's ExposedHistogram writes the exposition format).
 */
export class CheckDurations extends ExposedHistogram {
  readonly #series = new Map<DecisionSource, HistogramSeries>();

  constructor(registry: Registry) {
    super(
      'sdlab_ratelimit_check_duration_seconds',
      'Time to reach one decision, by source',
      CHECK_BUCKETS,
      registry,
    );
  }

  observe(source: DecisionSource, seconds: number): void {
    let series = this.#series.get(source);
    if (!series) {
      series = new HistogramSeries(this.bounds);
      this.#series.set(source, series);
    }
    series.observe(this.bounds, seconds);
  }

  protected *labelledSeries(): Iterable<[Record<string, string>, HistogramSeries]> {
    for (const [source, series] of this.#series) yield [{ source }, series];
  }

  reset(): void {
    this.#series.clear();
  }
}
