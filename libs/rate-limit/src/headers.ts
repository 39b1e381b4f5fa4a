import type { Decision } from './decision.ts';

/**
 * Response headers for a decision:
 * - IETF draft-ietf-httpapi-ratelimit-headers (structured fields): `RateLimit-Policy: "free";q=100;w=60`
 *   (quota q per window w seconds) and `RateLimit: "free";r=42;t=17` (r remaining, t seconds until
 *   the quota is fully available again);
 * - the widespread `X-RateLimit-Limit/Remaining/Reset` (Reset in seconds from now, as
 *   @fastify/rate-limit and the IETF `t` do, not an epoch time);
 * - `Retry-After` (seconds, at least 1) when the request was denied.
 */
export function rateLimitHeaders(decision: Decision): Record<string, string> {
  const name = sfString(decision.policy);
  const reset = String(Math.ceil(decision.resetMs / 1000));
  const headers: Record<string, string> = {
    'ratelimit-policy': `${name};q=${decision.limit};w=${Math.max(1, Math.ceil(decision.windowMs / 1000))}`,
    ratelimit: `${name};r=${decision.remaining};t=${reset}`,
    'x-ratelimit-limit': String(decision.limit),
    'x-ratelimit-remaining': String(decision.remaining),
    'x-ratelimit-reset': reset,
  };
  if (!decision.allowed) headers['retry-after'] = String(retryAfterSeconds(decision));
  return headers;
}

export function retryAfterSeconds(decision: Decision): number {
  return Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
}

/** RFC 8941 sf-string: quoted, with `"` and `\` escaped (rule names never need it; callers may). */
function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
