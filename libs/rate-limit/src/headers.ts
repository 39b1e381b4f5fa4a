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
  const policy = policyOf(decision);
  const reset = String(Math.ceil(decision.resetMs / 1000));
  const headers: Record<string, string> = {
    'ratelimit-policy': policy.header,
    ratelimit: `${policy.name};r=${decision.remaining};t=${reset}`,
    'x-ratelimit-limit': policy.limitText,
    'x-ratelimit-remaining': String(decision.remaining),
    'x-ratelimit-reset': reset,
  };
  if (!decision.allowed) headers['retry-after'] = String(retryAfterSeconds(decision));
  return headers;
}

interface PolicyStrings {
  limit: number;
  windowMs: number;
  /** The sf-string of the rule name. */
  name: string;
  header: string;
  limitText: string;
}

/** The strings that only change with the rule, built once per rule (and again after a reload changes it). */
const policies = new Map<string, PolicyStrings>();

function policyOf(decision: Decision): PolicyStrings {
  const known = policies.get(decision.policy);
  if (known && known.limit === decision.limit && known.windowMs === decision.windowMs) return known;
  const name = sfString(decision.policy);
  const strings: PolicyStrings = {
    limit: decision.limit,
    windowMs: decision.windowMs,
    name,
    header: `${name};q=${decision.limit};w=${Math.max(1, Math.ceil(decision.windowMs / 1000))}`,
    limitText: String(decision.limit),
  };
  // Policies are rule names, a handful per service; the bound only guards against a caller's own.
  if (policies.size >= 1000) policies.clear();
  policies.set(decision.policy, strings);
  return strings;
}

export function retryAfterSeconds(decision: Decision): number {
  return Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
}

/** RFC 8941 sf-string: quoted, with `"` and `\` escaped (rule names never need it; callers may). */
function sfString(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
