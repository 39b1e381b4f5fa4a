import { describe, expect, it } from 'vitest';
import type { Decision } from './decision.ts';
import { rateLimitHeaders } from './headers.ts';

const decision: Decision = {
  allowed: true,
  limit: 100,
  windowMs: 60_000,
  remaining: 42,
  resetMs: 16_200,
  retryAfterMs: 0,
  policy: 'free',
  source: 'redis',
};

describe('rateLimitHeaders', () => {
  it('writes the IETF structured-field headers and the X-RateLimit ones', () => {
    expect(rateLimitHeaders(decision)).toEqual({
      'ratelimit-policy': '"free";q=100;w=60',
      ratelimit: '"free";r=42;t=17',
      'x-ratelimit-limit': '100',
      'x-ratelimit-remaining': '42',
      'x-ratelimit-reset': '17',
    });
  });

  it('adds Retry-After in whole seconds, at least 1, when denied', () => {
    const denied = rateLimitHeaders({ ...decision, allowed: false, remaining: 0, retryAfterMs: 120 });
    expect(denied['retry-after']).toBe('1');
    expect(denied.ratelimit).toBe('"free";r=0;t=17');
  });
});
