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
  const headers: Record<string, string> = {};
  setRateLimitHeaders(
    {
      header(name, value) {
        headers[name] = value;
      },
    },
    decision,
  );
  return headers;
}

/** Anything headers can be set on one by one, such as a Fastify reply. */
export interface HeaderTarget {
  header(name: string, value: string): unknown;
}

/**
 * The headers of rateLimitHeaders(), set straight on a reply: on a hot path this saves building an
 * object per request and walking it again (`reply.headers(object)`).
 */
export function setRateLimitHeaders(target: HeaderTarget, decision: Decision): void {
  const policy = policyOf(decision);
  const reset = String(Math.ceil(decision.resetMs / 1000));
  const remaining = String(decision.remaining);
  target.header('ratelimit-policy', policy.header);
  target.header('ratelimit', `${policy.name};r=${remaining};t=${reset}`);
  target.header('x-ratelimit-limit', policy.limitText);
  target.header('x-ratelimit-remaining', remaining);
  target.header('x-ratelimit-reset', reset);
  if (!decision.allowed) target.header('retry-after', String(retryAfterSeconds(decision)));
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
