export type { BreakerOptions, BreakerState } from './breaker.ts';
export type { Decision, DecisionSource, Outcome } from './decision.ts';
export { RateLimitErrors } from './errors.ts';
export { type HeaderTarget, rateLimitHeaders, retryAfterSeconds, setRateLimitHeaders } from './headers.ts';
export { type LimiterKeys, limiterKeys } from './keys.ts';
export {
  type CheckRequest,
  type DecisionCallback,
  RateLimiter,
  type RateLimiterOptions,
} from './limiter.ts';
export {
  createOneRuleLimiter,
  createServiceLimiter,
  type LimiterHost,
  limiterDepsOf,
  type OneRule,
  type OneRuleLimiter,
  type OneRuleLimiterDeps,
  routeLimit,
} from './one-rule.ts';
export { type RateLimitPluginOptions, type RouteRateLimit, rateLimitPlugin } from './plugin.ts';
export {
  ALGORITHMS,
  type Algorithm,
  FAILURE_POLICIES,
  type FailurePolicy,
  MODES,
  type Mode,
  parseRules,
  quotaOf,
  type Rule,
  RulesError,
  SLIDING_LOG_MAX_LIMIT,
  type TokenBucketRule,
  TokenBucketRuleSchema,
  type WindowRule,
  WindowRuleSchema,
} from './rules.ts';
export { RateLimitAttributes, type RateLimitMetrics, rateLimitMetrics } from './telemetry.ts';
