import createError from '@fastify/error';

/** Coded errors of the decision service; the kit renders them as problem+json. */
export const RateLimiterErrors = {
  UnknownRule: createError<[string, string]>(
    'SDLAB_RATELIMITER_UNKNOWN_RULE',
    '%s: no rule named "%s" (GET /v1/rules lists them)',
    422,
  ),
  CostExceedsLimit: createError<[string, number, string, number]>(
    'SDLAB_RATELIMITER_COST_EXCEEDS_LIMIT',
    '%s: a cost of %d can never be admitted by rule "%s", whose limit is %d',
    422,
  ),
};
