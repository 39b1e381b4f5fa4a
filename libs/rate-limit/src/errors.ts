import createError from '@fastify/error';

/** Coded errors of the rate-limit library; the service kit renders them as problem+json. */
export const RateLimitErrors = {
  /** Thrown by the Fastify plugin; carries `retryAfterSeconds`, which the kit turns into Retry-After. */
  Exceeded: createError<[string]>('SDLAB_RATELIMIT_EXCEEDED', 'Rate limit exceeded (policy "%s")', 429),
  UnknownRule: createError<[string]>('SDLAB_RATELIMIT_UNKNOWN_RULE', 'No rate-limit rule named "%s"', 422),
  CostExceedsLimit: createError<[number, string, number]>(
    'SDLAB_RATELIMIT_COST_EXCEEDS_LIMIT',
    'A cost of %d can never be admitted by rule "%s", whose limit is %d',
    422,
  ),
  /** A script refused its arguments: a bug in this library, never the caller's input. */
  ScriptArgument: createError<[string]>(
    'SDLAB_RATELIMIT_SCRIPT_ARGUMENT',
    'The %s script rejected its arguments',
    500,
  ),
};
